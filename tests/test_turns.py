from __future__ import annotations

from callintel.pipeline import AttributedWord, build_turns
from callintel.transcript import Word


def w(token: str, start: float, end: float, speaker: str, channel: int | None = None) -> AttributedWord:
    return AttributedWord(Word(token, start, end, 0.9), speaker, channel)


def test_overlapping_channels_stay_whole_in_time_order() -> None:
    words = [
        w(" He", 0.0, 0.2, "S1", 0),
        w(" The", 0.1, 0.3, "S2", 1),
        w(" began", 0.25, 0.5, "S1", 0),
        w(" horizon", 0.35, 0.8, "S2", 1),
        w(" late.", 0.55, 0.9, "S1", 0),
    ]
    turns = build_turns(words, max_gap=2.0)
    assert [(s, "".join(x.word for x in ws)) for s, _, ws in turns] == [
        ("S1", " He began late."),
        ("S2", " The horizon"),
    ]


def test_splits_where_the_other_speaker_talks_in_a_pause() -> None:
    words = [w("您好", 0.0, 0.5, "S1"), w("你好", 0.8, 1.0, "S2"), w("请问", 1.2, 1.5, "S1")]
    turns = build_turns(words, max_gap=2.0)
    assert [s for s, _, _ in turns] == ["S1", "S2", "S1"]


def test_splits_on_long_pause_and_keeps_short_ones() -> None:
    words = [w("a", 0.0, 0.5, "S1"), w("b", 1.0, 1.5, "S1"), w("c", 5.0, 5.5, "S1")]
    turns = build_turns(words, max_gap=2.0)
    assert [len(ws) for _, _, ws in turns] == [2, 1]
