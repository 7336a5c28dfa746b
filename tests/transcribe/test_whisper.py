"""Transcriber logic that needs no model: cleaning Whisper's segments of one channel."""

from __future__ import annotations

from types import SimpleNamespace

from callintel.options import TranscriptionOptions
from callintel.transcribe.whisper import _Cleaner, speech_windows


def segment(text: str, start: float, *words: tuple[str, float, float]) -> SimpleNamespace:
    return SimpleNamespace(
        text=text,
        start=start,
        end=words[-1][2] if words else start + 1.0,
        avg_logprob=-0.2,
        words=[SimpleNamespace(word=w, start=s, end=e, probability=0.9) for w, s, e in words],
    )


def test_a_line_said_twice_stays_and_a_third_copy_is_a_loop() -> None:
    cleaner = _Cleaner(TranscriptionOptions(), "en", channel=0)
    for i in range(3):
        cleaner.add(segment(" Okay.", 10.0 * i, (" Okay.", 10.0 * i, 10.0 * i + 0.4)))
    transcript = cleaner.transcript(0.9)
    assert [s.text for s in transcript.segments] == ["Okay.", "Okay."]
    assert [(r.reason, r.start) for r in transcript.removed] == [("repeated line", 20.0)]


def test_times_are_moved_back_by_the_channel_offset_and_chinese_simplified() -> None:
    cleaner = _Cleaner(TranscriptionOptions(), "zh", channel=1)
    cleaner.add(segment("歡迎", 305.0, ("歡迎", 305.0, 305.5), ("大家", 305.5, 306.0)), offset=300.0)
    (kept,) = cleaner.transcript(0.8).segments
    assert kept.text == "欢迎大家"
    assert [(w.start, w.end) for w in kept.words] == [(5.0, 5.5), (5.5, 6.0)]


def test_speech_windows_merge_regions_up_to_thirty_seconds() -> None:
    regions = [(0.0, 10.0), (12.0, 25.0), (26.0, 40.0), (41.0, 42.0)]
    assert speech_windows(regions) == [(0.0, 25.0), (26.0, 42.0)]
