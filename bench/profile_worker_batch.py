"""Profile: where a worker's batch of short calls spends its time (issue 16).

The clips of ``bench_service.py`` (3-6 s slices of the shared test audio, the same seed) are
analysed in process by the service's analyzer (``callintel.service.worker.pipeline_analyzer``),
one call at a time (``--groups 1``, what a worker with batch 1 does) and ``analyze_many`` over
groups of N (a worker with batch N). For each it prints the wall time per clip, the pipeline's own
stage timings summed over the clips, and the time and number of calls of Whisper's encoder (one
30 s window per call), decoder (``generate``), word alignment and language detection, and of the
classifier pass, measured by wrapping those methods of the loaded models.

Usage (from the repository root)::

    python bench/profile_worker_batch.py [--clips 24] [--groups 1 8] [--transcription-batch-size 0]
        [--language-given]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))

from bench_service import SCENARIOS, build_clips  # noqa: E402

spent: collections.Counter[str] = collections.Counter()
calls: collections.Counter[str] = collections.Counter()


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        clock = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - clock
            calls[name] += 1

    return wrapper


class TimedModel:
    """The CTranslate2 Whisper model with its decoding, alignment and language detection timed."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.model, name)
        return timed(f"whisper {name}", value) if name in ("generate", "align", "detect_language") else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--clips", type=int, default=24, help="bench_service clips to analyse (default 24)")
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 8], help="batch sizes to compare")
    parser.add_argument(
        "--transcription-batch-size", type=int, default=0, help="TranscriptionOptions.batch_size (default 0)"
    )
    parser.add_argument(
        "--language-given",
        action="store_true",
        help="each call's language as an upload's `language` field would give it (zh for the Chinese "
        "clips, en for the others): no language detection",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from callintel.options import AnalysisOptions
    from callintel.pipeline import Pipeline
    from callintel.service.worker import Work, pipeline_analyzer
    from callintel.settings import Settings

    clips = build_clips(args.clips, args.seed)
    audio = sum(c.seconds for c in clips)
    with tempfile.TemporaryDirectory(prefix="callintel-profile-") as tmp:
        work: list[Work] = []
        for clip in clips:
            path = Path(tmp) / f"clip{clip.index}.{clip.fmt}"
            path.write_bytes(clip.data)
            options = AnalysisOptions(scenario=SCENARIOS[clip.index % len(SCENARIOS)])  # type: ignore[arg-type]
            language = ("zh" if clip.name.startswith("zh_") else "en") if args.language_given else None
            options = replace(
                options,
                transcription=replace(
                    options.transcription, batch_size=args.transcription_batch_size, language=language
                ),
            )
            work.append((path, options, None))
        pipeline = Pipeline.from_settings(Settings.from_env())
        analyzer = pipeline_analyzer(pipeline)
        whisper = pipeline.transcriber.model
        whisper.encode = timed("whisper encode (one 30 s window)", whisper.encode)  # type: ignore[method-assign]
        whisper.model = TimedModel(whisper.model)
        if pipeline.understander is not None:
            pipeline.understander.understand_many = timed(  # type: ignore[method-assign]
                "classifiers (understand_many)", pipeline.understander.understand_many
            )
        mono = next(w for w, c in zip(work, clips, strict=True) if c.channels == 1)
        analyzer(*mono)  # warm-up, not counted (loads the speaker model too)
        for group in args.groups:
            spent.clear()
            calls.clear()
            stages: collections.Counter[str] = collections.Counter()
            clock = time.perf_counter()
            for start in range(0, len(work), group):
                part = work[start : start + group]
                results = analyzer.analyze_many(part) if group > 1 else [analyzer(*part[0])]
                for result in results:
                    if not isinstance(result, Exception):
                        stages.update(result.timings)
            wall = time.perf_counter() - clock
            print(
                f"\ngroup {group}: {len(work)} clips ({audio:.0f} s of audio) in {wall:.1f} s, "
                f"{wall / len(work):.2f} s per clip"
            )
            print(
                "  stages (summed result.timings): "
                + ", ".join(f"{k} {v:.1f} s" for k, v in stages.most_common())
            )
            for name, seconds in spent.most_common():
                print(
                    f"  {name}: {seconds:.1f} s in {calls[name]} calls ({100 * seconds / wall:.0f} % of wall)"
                )


if __name__ == "__main__":
    main()
