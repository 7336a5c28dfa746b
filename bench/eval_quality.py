"""Print the quality numbers the tests assert, on the real recordings in ../shared/data/audio.

WER per channel of the stereo clip and of jfk.flac, CER of the two Mandarin clips, the
diarization error rate of the AMI sample against its RTTM, and, on the 245 s auto-repairs
call mixed to mono, the agreement of diarization and of word roles with the per-channel
energy truth. Run: ``python bench/eval_quality.py``.

``--asr`` prints instead the transcript accuracy of callintel (sequential and batched decoding)
against plain faster-whisper (its defaults: beam 5, VAD, word timestamps, conditioned on the
previous text; and its ``BatchedInferencePipeline``, batch 8) on the same audio with the same
model: WER/CER of each reference clip, of each clip band-limited to 8 kHz like a telephone line,
and of the clips of each language joined with short pauses and a little noise (several
utterances in one recording, where how speech is cut matters), pooled over all words/characters;
then, on the bundled 245 s demo call (no reference transcript exists), how far each output is
from the others per channel (WER of one against the other). Chinese is compared in Simplified
characters for every system (plain faster-whisper often writes Traditional; callintel converts).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callintel.audio.decode import load_audio  # noqa: E402
from callintel.options import AnalysisOptions, SpeakerOptions, TranscriptionOptions  # noqa: E402
from callintel.pipeline import Pipeline  # noqa: E402
from callintel.settings import Settings  # noqa: E402
from callintel.speakers.diarize import TICK, speech_regions  # noqa: E402
from callintel.text import to_simplified  # noqa: E402
from tests.helpers import (  # noqa: E402
    agreement,
    cer,
    diarization_error_rate,
    edit_distance,
    energy_truth,
    read_rttm,
    word_role_accuracy,
    write_audio,
)
from tests.test_pipeline import JFK, MANDARIN, STEREO_REFERENCE, normalise_en, wer  # noqa: E402

AUDIO = ROOT.parent / "shared" / "data" / "audio"
DEMO = ROOT / "demo" / "auto_repairs_call.flac"
SYSTEMS = ("faster-whisper", "faster-whisper batched 8", "callintel sequential", "callintel batched 8")


@dataclass(frozen=True)
class Clip:
    name: str
    samples: np.ndarray  # 16 kHz mono
    reference: str
    language: str  # "en" (WER) or "zh" (CER)


def telephone(samples: np.ndarray) -> np.ndarray:
    """The clip as heard through an 8 kHz telephone line (band-limited to 4 kHz)."""
    import librosa

    narrow = librosa.resample(samples, orig_sr=16000, target_sr=8000)
    return librosa.resample(narrow, orig_sr=8000, target_sr=16000).astype(np.float32)


def joined(name: str, clips: list[Clip], pauses: list[float], seed: int = 0) -> Clip:
    """Clips one after another with pauses between them and a little noise throughout."""
    parts: list[np.ndarray] = []
    for clip, pause in zip(clips, [*pauses, 0.0], strict=True):
        parts += [clip.samples, np.zeros(int(pause * 16000), np.float32)]
    samples = np.concatenate(parts)
    samples = samples + np.random.default_rng(seed).normal(0, 0.002, len(samples)).astype(np.float32)
    separator = " " if clips[0].language == "en" else ""
    return Clip(name, samples, separator.join(c.reference for c in clips), clips[0].language)


def reference_clips() -> list[Clip]:
    stereo = load_audio(AUDIO / "stereo_diarization.wav")
    english = [
        Clip(f"stereo_diarization.wav ch{ch}", stereo.samples[ch], text, "en")
        for ch, text in STEREO_REFERENCE.items()
    ]
    english.append(Clip("jfk.flac", load_audio(AUDIO / "jfk.flac").mono(), JFK, "en"))
    mandarin = [
        Clip(name, load_audio(AUDIO / name).mono(), text, "zh") for name, text in sorted(MANDARIN.items())
    ]
    clips = [
        *english,
        *mandarin,
        joined("English clips joined", [english[0], english[2], english[1]], [0.5, 0.9]),
        joined("Mandarin clips joined", mandarin, [0.6]),
    ]
    return clips + [Clip(f"{c.name}, 8 kHz", telephone(c.samples), c.reference, c.language) for c in clips]


def errors(clip: Clip, hypothesis: str) -> tuple[int, int]:
    """(errors, reference length): words for English, characters (Simplified) for Chinese."""
    if clip.language == "en":
        size = len(normalise_en(clip.reference)[0])
        return round(wer(clip.reference, hypothesis) * size), size
    reference = [c for c in clip.reference if c.isalnum()]
    return edit_distance(reference, [c for c in to_simplified(hypothesis) if c.isalnum()]), len(reference)


def transcripts(pipeline: Pipeline, samples: np.ndarray, language: str | None = None) -> dict[str, str]:
    """What each system writes for one channel of 16 kHz audio."""
    from faster_whisper import BatchedInferencePipeline

    model = pipeline.transcriber.model
    out: dict[str, str] = {}
    segments, _ = model.transcribe(
        samples, language=language, beam_size=5, vad_filter=True, word_timestamps=True
    )
    out[SYSTEMS[0]] = "".join(s.text for s in segments).strip()
    segments, _ = BatchedInferencePipeline(model).transcribe(
        samples, language=language, beam_size=5, word_timestamps=True, batch_size=8
    )
    out[SYSTEMS[1]] = "".join(s.text for s in segments).strip()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_audio(Path(tmp) / "clip.wav", samples[None, :], 16000, "pcm_s16le", "wav")
        for system, batch in ((SYSTEMS[2], 0), (SYSTEMS[3], 8)):
            options = AnalysisOptions(
                transcription=TranscriptionOptions(language=language, batch_size=batch),
                speakers=SpeakerOptions(channels="mono", num_speakers=1),
                understand=False,
            )
            result = pipeline.analyze(path, options)
            out[system] = " ".join(t.text for t in result.turns)
    return out


def asr_comparison(pipeline: Pipeline) -> None:
    totals = {(system, language): [0, 0] for system in SYSTEMS for language in ("en", "zh")}
    print(f"{'clip':<40} " + " ".join(f"{s:>24}" for s in SYSTEMS))
    for clip in reference_clips():
        found = transcripts(pipeline, clip.samples)
        cells = []
        for system in SYSTEMS:
            wrong, size = errors(clip, found[system])
            totals[(system, clip.language)][0] += wrong
            totals[(system, clip.language)][1] += size
            cells.append(f"{wrong / size:>24.3f}")
        metric = "WER" if clip.language == "en" else "CER"
        print(f"{clip.name + ' ' + metric:<40} " + " ".join(cells))
    for language, metric in (("en", "WER"), ("zh", "CER")):
        size = totals[(SYSTEMS[0], language)][1]
        cells = [f"{totals[(s, language)][0] / size:>24.3f}" for s in SYSTEMS]
        unit = "words" if language == "en" else "characters"
        print(f"{f'pooled {metric} ({size} {unit})':<40} " + " ".join(cells))

    demo = load_audio(DEMO)
    print(f"\n{DEMO.name}: WER of each output against another, per channel (no reference exists)")
    plain, _, sequential, batched = SYSTEMS
    pairs = [(sequential, batched), (plain, sequential), (plain, batched), (plain, SYSTEMS[1])]
    for channel in (0, 1):
        found = transcripts(pipeline, demo.samples[channel], language="en")
        for a, b in pairs:
            print(f"  ch{channel}  {a} vs {b}: {wer(found[a], found[b]):.3f}")


def main() -> None:
    if not AUDIO.is_dir():
        raise SystemExit(f"test recordings not found at {AUDIO}")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asr", action="store_true", help="compare transcripts with plain faster-whisper")
    args = parser.parse_args()
    pipeline = Pipeline.from_settings(Settings.from_env(), compute_type="int8")
    if args.asr:
        asr_comparison(pipeline)
        return
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
