"""Print the quality numbers the tests assert, on the real recordings in ../shared/data/audio.

WER per channel of the stereo clip and of jfk.flac, CER of the two Mandarin clips, the
diarization error rate of the AMI sample against its RTTM, and, on the 245 s auto-repairs
call mixed to mono, the agreement of diarization and of word roles with the per-channel
energy truth. Run: ``python bench/eval_quality.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callintel.audio.decode import load_audio  # noqa: E402
from callintel.pipeline import Pipeline  # noqa: E402
from callintel.settings import Settings  # noqa: E402
from callintel.speakers.diarize import TICK, speech_regions  # noqa: E402
from tests.helpers import (  # noqa: E402
    agreement,
    cer,
    diarization_error_rate,
    energy_truth,
    read_rttm,
    word_role_accuracy,
    write_audio,
)
from tests.test_pipeline import JFK, MANDARIN, STEREO_REFERENCE, wer  # noqa: E402

AUDIO = ROOT.parent / "shared" / "data" / "audio"


def main() -> None:
    if not AUDIO.is_dir():
        raise SystemExit(f"test recordings not found at {AUDIO}")
    pipeline = Pipeline.from_settings(Settings.from_env(), compute_type="int8")
    rows: list[tuple[str, str, float]] = []

    stereo = pipeline.analyze(AUDIO / "stereo_diarization.wav")
    for channel, reference in STEREO_REFERENCE.items():
        text = " ".join(t.text for t in stereo.turns if t.channel == channel)
        rows.append((f"stereo_diarization.wav ch{channel}", "WER", wer(reference, text)))
    jfk = pipeline.analyze(AUDIO / "jfk.flac")
    rows.append(("jfk.flac", "WER", wer(JFK, " ".join(t.text for t in jfk.turns))))
    for name, reference in sorted(MANDARIN.items()):
        result = pipeline.analyze(AUDIO / name)
        rows.append((name, "CER", cer(reference, "".join(t.text for t in result.turns))))

    ami = load_audio(AUDIO / "pyannote_sample.wav").mono()
    reference = read_rttm(AUDIO / "pyannote_sample.rttm")
    segments = pipeline.diarizer.diarize(ami, speech_regions(ami)).segments
    for collar in (0.0, 0.25):
        rows.append(
            (
                "pyannote_sample.wav",
                f"DER collar {collar}",
                diarization_error_rate(reference, segments, collar),
            )
        )

    agent = load_audio(AUDIO / "en_auto_repairs_40_agent.flac").mono()
    caller = load_audio(AUDIO / "en_auto_repairs_40_caller.flac").mono()
    n = min(len(agent), len(caller))
    agent, caller = agent[:n], caller[:n]
    mono = (agent + caller) / 2
    truth = energy_truth(agent, caller)
    diarization = pipeline.diarizer.diarize(mono, speech_regions(mono))
    labels = np.argmax(diarization.scores[: len(truth)], axis=1)
    speech = np.zeros(len(truth), bool)
    for seg in diarization.segments:
        speech[int(seg.start / TICK) : int(seg.end / TICK)] = True
    judged = (truth >= 0) & speech
    rows.append(("auto-repairs mono", "tick agreement", agreement(truth[judged], labels[judged])))

    with tempfile.TemporaryDirectory() as tmp:
        path = write_audio(Path(tmp) / "mono.wav", mono[None, :], 16000, "pcm_s16le", "wav")
        result = pipeline.analyze(path)
    right, total = word_role_accuracy(result, truth)
    rows.append(("auto-repairs mono", f"word role accuracy ({total} words)", right / total))
    rows.append(("auto-repairs mono", "role confidence", result.roles.confidence))

    width = max(len(r[0]) for r in rows)
    for name, metric, value in rows:
        print(f"{name:<{width}}  {metric:<32} {value:.3f}")


if __name__ == "__main__":
    main()
