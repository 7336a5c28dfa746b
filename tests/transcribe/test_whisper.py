"""Transcriber logic that needs no model: cleaning Whisper's segments of one channel."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from callintel.options import TranscriptionOptions
from callintel.transcribe.whisper import Transcriber, _Cleaner, _Packed, speech_windows


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
    cleaner.add(segment("歡迎", 305.0, ("歡迎", 305.0, 305.5), ("大家", 305.5, 306.0)), lambda t: t - 300.0)
    (kept,) = cleaner.transcript(0.8).segments
    assert kept.text == "欢迎大家"
    assert [(w.start, w.end) for w in kept.words] == [(5.0, 5.5), (5.5, 6.0)]


def test_speech_windows_pack_regions_up_to_thirty_seconds_cutting_long_pauses() -> None:
    regions = [(0.0, 10.0), (13.0, 25.0), (27.0, 40.0), (41.0, 42.0)]
    # The 3 s pause is cut to 2 s (1 s kept on each side); the 2 s and 1 s pauses are kept whole.
    assert speech_windows(regions) == [[(0.0, 11.0), (12.0, 25.0)], [(27.0, 42.0)]]


def test_packed_times_go_back_to_their_channel_and_original_time() -> None:
    silence = np.zeros(100 * 16000, dtype=np.float32)
    packed = _Packed.lay_out([silence, silence], [[(0.0, 5.0), (50.0, 55.0)], [(10.0, 12.0)]])
    # Channel 0: 0-6 and 49-55 packed into one 12 s window; channel 1 after it.
    assert packed.windows == [(0.0, 12.0), (12.0, 14.0)]
    original = packed.mapper(packed.piece_at(1.0))
    assert [original(t) for t in (1.0, 7.0, 11.0)] == [1.0, 50.0, 54.0]
    assert packed.channel_at(13.0) == 1 and packed.mapper(packed.piece_at(13.0))(13.0) == 11.0


class FakeWhisper:
    """Records what the Transcriber asks of faster-whisper; detects Mandarin or English."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.detected: list[tuple[int, bool]] = []
        self.batched_calls: list[dict[str, object]] = []

    def detect_language(self, audio: np.ndarray, vad_filter: bool) -> tuple[str, float, list[object]]:
        self.detected.append((len(audio), vad_filter))
        return self.language, 0.93, []

    def transcribe(self, audio: np.ndarray, **kwargs: object) -> tuple[list[object], SimpleNamespace]:
        self.batched_calls.append(kwargs)
        first = kwargs["clip_timestamps"][0]  # type: ignore[index]
        raw = segment(" 你好", first["start"], (" 你好", first["start"], first["start"] + 0.5))
        return [raw], SimpleNamespace(language=kwargs["language"], language_probability=1.0)


def transcriber(fake: FakeWhisper) -> Transcriber:
    t = Transcriber(model=fake, info=None)  # type: ignore[arg-type]
    t._batched = fake  # type: ignore[assignment]
    return t


def test_language_is_detected_on_the_first_thirty_seconds_of_speech_found_ahead() -> None:
    fake = FakeWhisper("zh")
    samples = np.zeros(100 * 16000, dtype=np.float32)
    transcriber(fake).detect_language(samples, [(1.0, 21.0), (30.0, 50.0), (60.0, 90.0)])
    assert fake.detected == [(30 * 16000, False)]  # 20 s + the first 10 s of the second region


def test_timestamp_tokens_follow_the_detected_language_and_the_probability_is_kept() -> None:
    for language, untimed in (("zh", False), ("en", True)):
        fake = FakeWhisper(language)
        stereo = [(0, np.zeros(60 * 16000, dtype=np.float32)), (1, np.zeros(60 * 16000, dtype=np.float32))]
        left, right = transcriber(fake).transcribe_channels(
            stereo, [(), [(5.0, 9.0)]], TranscriptionOptions(batch_size=8)
        )
        (call,) = fake.batched_calls
        assert call["language"] == language and call["without_timestamps"] is untimed
        assert fake.detected == [(4 * 16000, False)]  # the only channel with speech
        assert (left.language, left.language_probability) == (language, 0.93)
        assert [w.start for s in right.segments for w in s.words] == [5.0]  # back on its channel
        assert left.segments == ()


def test_a_word_over_a_cut_pause_keeps_its_length() -> None:
    silence = np.zeros(100 * 16000, dtype=np.float32)
    packed = _Packed.lay_out([silence], [[(0.0, 5.0), (50.0, 55.0)]])  # 6-7 s packed is 49-50 s
    cleaner = _Cleaner(TranscriptionOptions(), "en", channel=0)
    cleaner.add(segment(" late", 5.5, (" late", 5.5, 6.5)), packed.mapper(0))
    (word,) = cleaner.transcript(0.9).segments[0].words
    assert (word.start, word.end) == (5.5, 6.5)  # not stretched to 49.5 over the cut-out pause
