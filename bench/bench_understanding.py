"""Benchmark: the understanding stage's classifiers, batched vs one turn at a time, and the
share of pipeline time that understanding takes on the 245 s demo call.

Run from the repository root after `callintel train`: ``python bench/bench_understanding.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callintel.options import AnalysisOptions  # noqa: E402
from callintel.pipeline import Pipeline, load_understander  # noqa: E402
from callintel.settings import Settings  # noqa: E402
from callintel.understand.classifiers import CallTurn  # noqa: E402
from callintel.understand.inference import predict_logits  # noqa: E402


def main(repeat: int = 3) -> None:
    settings = Settings.from_env()
    understander = load_understander(settings, None, device="cpu")
    if understander is None:
        raise SystemExit("understanding models are not trained: run `callintel train` first")
    pipeline = Pipeline.from_settings(settings, compute_type="int8", cpu_threads=2)
    result = pipeline.analyze(
        ROOT / "demo" / "auto_repairs_call.flac", AnalysisOptions(call_date="2026-11-23")
    )
    turns = [CallTurn(t.role, t.text, t.start, t.end) for t in result.turns]

    inputs = understander.preprocess(turns)

    def batched() -> None:
        understander._forward(inputs)

    def one_by_one() -> None:
        # The same rows, one forward pass each (the intent pass is per call either way).
        for task, model in (("script", understander.script), ("attributes", understander.attributes)):
            for row in inputs[task]:
                predict_logits(task, model, understander.tokenizers[task], [row])
        predict_logits("intent", understander.intent, understander.tokenizers["intent"], inputs["intent"])

    rows = []
    for name, run in (("batched (one call, all turns)", batched), ("one turn at a time", one_by_one)):
        run()  # warm-up
        times = []
        for _ in range(repeat):
            clock = time.perf_counter()
            run()
            times.append(time.perf_counter() - clock)
        wall = statistics.median(times)
        rows.append((name, wall, len(turns) / wall))
    print(f"call: {result.duration:.1f} s audio, {len(turns)} turns; median of {repeat} runs, CPU")
    print(f"{'classifier forward passes':<32} {'wall s':>8} {'turns/s':>9}")
    for name, wall, rate in rows:
        print(f"{name:<32} {wall:>8.3f} {rate:>9.1f}")
    print(f"batched speed-up: {rows[1][1] / rows[0][1]:.1f}x")
    transcribe = result.timings["transcribe"]
    understand = result.timings.get("understand", float("nan"))
    print(
        f"pipeline on the call: transcribe {transcribe:.2f} s, understand {understand:.3f} s "
        f"({understand / transcribe:.1%} of transcription; target <= 10%)"
    )


if __name__ == "__main__":
    main()
