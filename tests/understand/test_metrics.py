"""Conversation metrics: hand-computed calls, the question rules, and the real stereo call
against the two parties' own energy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.transcript import Role, RoleDecision, SourceInfo, SpeakerRole, Turn, Word
from callintel.understand.metrics import (
    ConversationMetrics,
    conversation_metrics,
    count_questions,
    is_question,
    sentences,
)
from callintel.understand.types import TurnSentiment
from tests.helpers import write_audio


def turn(role: Role, start: float, end: float, text: str, *words: tuple[str, float, float]) -> Turn:
    """A turn; ``words`` as (word, start, end), none for a turn without word timings."""
    items = tuple(Word(w, s, e, 0.9) for w, s, e in words)
    return Turn(role, "S1" if role == "sales" else "S2", None, start, end, text, items)


def spaced(role: Role, start: float, end: float, text: str) -> Turn:
    """A turn whose words fill its span back to back."""
    tokens = text.split() if " " in text else list(text)
    step = (end - start) / len(tokens)
    words = [
        (f" {t}" if " " in text else t, start + i * step, start + (i + 1) * step)
        for i, t in enumerate(tokens)
    ]
    return turn(role, start, end, text, *words)


def sentiment(index: int, score: float) -> TurnSentiment:
    label = "positive" if score > 0.2 else "negative" if score < -0.2 else "neutral"
    return TurnSentiment(index, label, score, {"positive": 0.0, "neutral": 1.0, "negative": 0.0})


# --- talk, silence, turns ----------------------------------------------------------------------


def test_two_roles_alternating_with_gaps() -> None:
    turns = [
        # 0.2 s pause between "there" and "friend" is bridged: talk [1, 4].
        turn(
            "sales",
            1.0,
            4.0,
            "Hello there friend.",
            (" Hello", 1.0, 2.0),
            (" there", 2.0, 3.0),
            (" friend.", 3.2, 4.0),
        ),
        # A 1.0 s pause is not: talk [5, 5.5] and [6.5, 7].
        turn("customer", 5.0, 7.0, "Hi yes.", (" Hi", 5.0, 5.5), (" yes.", 6.5, 7.0)),
        turn("sales", 10.0, 12.0, "Okay.", (" Okay.", 10.0, 12.0)),
        # No word timings: the turn's span counts.
        turn("customer", 12.5, 14.0, "Sure thing"),
    ]
    m = conversation_metrics(turns, 16.0, "en")
    assert m.sales.talk_time == 5.0 and m.customer.talk_time == 2.5
    assert m.sales.talk_ratio == pytest.approx(0.6667) and m.customer.talk_ratio == pytest.approx(0.3333)
    assert m.sales.talk_percent == 66.7
    assert m.talk_time == 7.5 and m.overlap_time == 0.0
    # Silences: [0,1] [4,5] [5.5,6.5] [7,10] [12,12.5] [14,16].
    assert m.silence_time == 8.5
    assert (m.longest_silence, m.longest_silence_start) == (3.0, 7.0)
    assert m.turns == 4 and m.sales.turns == 2 and m.customer.turns == 2
    assert m.turn_switches == 3 and m.switches_per_minute == 11.25
    assert m.sales.longest_monologue == 3.0 and m.sales.longest_monologue_start == 1.0
    # The customer's 1 s pause in [5, 7] stays inside one monologue (no sales speech in it).
    assert m.customer.longest_monologue == 2.0 and m.customer.longest_monologue_start == 5.0
    assert m.rate_unit == m.sales.rate_unit == "words_per_min"
    assert m.sales.speaking_rate == 48.0  # 4 words in 5 s
    assert m.customer.speaking_rate == 96.0  # 4 words in 2.5 s
    assert m.interruptions == () and m.interruption_counts == {"sales->customer": 0, "customer->sales": 0}
    assert m.sentiment is None


def test_interruptions_overlap_threshold_and_backchannels() -> None:
    turns = [
        spaced("sales", 0.0, 5.0, "one two three four five"),
        # Starts at 4.0 while sales talks on to 5.0: an interruption (1.0 s of overlap).
        spaced("customer", 4.0, 6.0, "wait please"),
        spaced("sales", 7.0, 10.2, "six seven eight nine"),
        # Sales goes on only 0.2 s after 10.0: below the 0.3 s threshold, a normal handover.
        spaced("customer", 10.0, 12.0, "yes sure"),
        spaced("sales", 13.0, 16.0, "ten eleven twelve"),
        # 0.6 s of "mm-hm" inside the sales speech: a back-channel, not an interruption.
        spaced("customer", 14.2, 14.8, "mm-hm"),
        spaced("customer", 18.0, 20.0, "so about that"),
        # Sales cuts in on the customer.
        spaced("sales", 19.0, 21.0, "let me explain"),
    ]
    m = conversation_metrics(turns, 22.0, "en")
    assert [(i.by, i.of, i.at, i.overlap) for i in m.interruptions] == [
        ("customer", "sales", 4.0, 1.0),
        ("sales", "customer", 19.0, 1.0),
    ]
    assert m.interruption_counts == {"sales->customer": 1, "customer->sales": 1}
    assert (m.sales.interruptions, m.sales.interrupted) == (1, 1)
    assert (m.customer.interruptions, m.customer.interrupted) == (1, 1)
    # Both speaking: [4,5] + [10,10.2] + [14.2,14.8] + [19,20].
    assert m.overlap_time == pytest.approx(2.8)
    assert m.sales.talk_time + m.customer.talk_time == pytest.approx(m.talk_time + m.overlap_time)
    assert m.talk_time + m.silence_time == pytest.approx(m.duration)
    # Sales alone: [0,4] [7,10] [13,14.2] [14.8,16] [20,21].
    assert (m.sales.longest_monologue, m.sales.longest_monologue_start) == (4.0, 0.0)


def test_longest_monologue_spans_consecutive_turns_of_one_role() -> None:
    sales = [
        spaced("sales", 0.0, 10.0, "a b c d e"),
        spaced("sales", 11.0, 20.0, "f g h"),  # 1 s pause
        spaced("sales", 22.5, 30.0, "i j k"),  # 2.5 s pause: still the same monologue
        spaced("sales", 34.0, 40.0, "l m"),  # 4 s pause: a new one
    ]
    customer = [spaced("customer", 45.0, 46.0, "ok")]
    m = conversation_metrics([*sales, *customer], 50.0, "en")
    assert (m.sales.longest_monologue, m.sales.longest_monologue_start) == (30.0, 0.0)
    assert m.turn_switches == 1
    # A word from the customer in a pause ends the monologue there.
    yes = spaced("customer", 20.5, 21.0, "yes")
    m = conversation_metrics([*sales[:2], yes, *sales[2:], *customer], 50.0, "en")
    assert (m.sales.longest_monologue, m.sales.longest_monologue_start) == (20.0, 0.0)
    assert m.turn_switches == 3


def test_empty_call_gives_zeros_and_nones() -> None:
    m = conversation_metrics([], 0.0, "zh")
    assert (m.duration, m.talk_time, m.silence_time, m.overlap_time) == (0.0, 0.0, 0.0, 0.0)
    assert (m.longest_silence, m.longest_silence_start) == (0.0, None)
    assert m.turns == m.turn_switches == 0 and m.switches_per_minute is None
    for role in (m.sales, m.customer):
        assert (role.talk_time, role.talk_ratio, role.turns, role.questions) == (0.0, 0.0, 0, 0)
        assert role.speaking_rate is None and role.rate_unit == "chars_per_min"
        assert (role.longest_monologue, role.longest_monologue_start) == (0.0, None)
    assert m.sentiment is None
    silent = conversation_metrics([], 30.0, "en", [])
    assert (silent.silence_time, silent.longest_silence, silent.longest_silence_start) == (30.0, 30.0, 0.0)
    assert silent.switches_per_minute == 0.0


# --- questions and speaking rate ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "questions"),
    [
        ("您好，请问您想看什么车", 1),  # 什么, no ？
        ("这个价格可以吗", 1),  # ends in 吗
        ("预算大概多少？", 1),
        ("你们有现车吗。这款车几个座位", 2),  # 吗 despite the 。; 几
        ("我们店在这里。你要不要试驾一下？", 1),
        ("有没有优惠呢", 1),
        ("好的，我过几天再来。", 0),  # 过几天 is "in a few days"
        ("没什么问题，谢谢。", 0),
        ("好的好的。", 0),
        ("How much is it", 1),  # no punctuation: wh-initial
        ("do you have it in blue", 1),  # no punctuation: auxiliary-initial
        ("Is it available? Great. Can I book a test drive?", 2),
        ("I will come at 8 a.m. Does that work?", 1),  # a.m. does not end a sentence
        ("How are you doing.", 0),  # Whisper punctuated it as a statement
        ("The price is 2.5 million. OK", 0),
        ("", 0),
    ],
)
def test_questions(text: str, questions: int) -> None:
    assert count_questions(text) == questions


def test_sentence_split() -> None:
    assert sentences("你好。你们有现车吗？！还有") == ["你好。", "你们有现车吗？！", "还有"]
    assert sentences("At 8 a.m. or 3 p.m.? Fine. It costs 2.5 million") == [
        "At 8 a.m. or 3 p.m.?",
        "Fine.",
        "It costs 2.5 million",
    ]
    assert is_question("Would you prefer between 3 p.m. and 5 p.m.?")


def test_mandarin_speaking_rate_counts_characters_and_questions_per_role() -> None:
    turns = [
        spaced("sales", 0.0, 1.2, "您好，欢迎光临"),  # 6 CJK characters in 1.2 s
        turn(
            "customer",
            2.0,
            4.0,
            "这款SUV多少钱？",
            ("这款", 2.0, 2.6),
            ("SUV", 2.6, 3.2),
            ("多少钱？", 3.2, 4.0),
        ),
    ]
    m = conversation_metrics(turns, 5.0, "zh")
    assert m.rate_unit == "chars_per_min"
    assert m.sales.speaking_rate == 300.0
    assert m.customer.speaking_rate == 150.0  # 这款多少钱: 5 characters in 2 s; "SUV" not counted
    assert (m.sales.questions, m.customer.questions) == (0, 1)


# --- sentiment ---------------------------------------------------------------------------------


def test_sentiment_quarters_and_trend() -> None:
    turns = [
        spaced("customer", 5.0, 15.0, "a"),  # midpoint 10: Q1
        spaced("customer", 20.0, 24.0, "b"),  # midpoint 22: Q1
        spaced("sales", 30.0, 40.0, "c"),  # Q2 has no customer turn
        spaced("customer", 80.0, 90.0, "d"),  # midpoint 85: Q4
    ]
    scores = [sentiment(0, 0.5), sentiment(1, -0.1), sentiment(3, 0.8)]
    s = conversation_metrics(turns, 100.0, "en", scores).sentiment
    assert s is not None
    assert [(p.turn, p.start, p.end, p.label, p.score) for p in s.turns] == [
        (0, 5.0, 15.0, "positive", 0.5),
        (1, 20.0, 24.0, "neutral", -0.1),
        (3, 80.0, 90.0, "positive", 0.8),
    ]
    assert s.quarters == (0.2, None, None, 0.8)
    assert s.trend == pytest.approx(0.6) and s.direction == "rising"


@pytest.mark.parametrize(
    ("first", "last", "trend", "direction"),
    [(0.5, -0.5, -1.0, "falling"), (0.1, 0.2, 0.1, "flat"), (-0.3, -0.05, 0.25, "rising")],
)
def test_sentiment_direction(first: float, last: float, trend: float, direction: str) -> None:
    turns = [spaced("customer", 0.0, 10.0, "a"), spaced("customer", 90.0, 100.0, "b")]
    s = conversation_metrics(turns, 100.0, "en", [sentiment(0, first), sentiment(1, last)]).sentiment
    assert s is not None and s.trend == pytest.approx(trend) and s.direction == direction


def test_sentiment_with_one_quarter_or_bad_indices() -> None:
    turns = [spaced("customer", 0.0, 10.0, "a"), spaced("sales", 10.0, 20.0, "b")]
    # Turn 1 is a sales turn and 7 does not exist: both ignored.
    s = conversation_metrics(
        turns, 100.0, "en", [sentiment(0, 0.4), sentiment(1, 0.9), sentiment(7, 1.0)]
    ).sentiment
    assert s is not None and [p.turn for p in s.turns] == [0]
    assert s.quarters == (0.4, None, None, None)
    assert s.trend is None and s.direction is None


# --- the result's JSON -------------------------------------------------------------------------


def result_with(metrics: ConversationMetrics | None) -> AnalysisResult:
    return AnalysisResult(
        language="zh",
        language_probability=0.99,
        duration=100.0,
        channel_layout="stereo",
        turns=(),
        roles=RoleDecision((SpeakerRole("S1", "sales", 0.97, 0),), 0.97, "channel+text"),
        source=SourceInfo("wav", "pcm_s16le", 8000, 2, 100.0, "ab" * 32),
        models=(),
        options=AnalysisOptions(),
        metrics=metrics,
    )


def test_json_round_trip_with_metrics() -> None:
    turns = [
        spaced("customer", 5.0, 15.0, "有没有优惠"),
        spaced("sales", 14.0, 30.0, "我们这个月有活动"),
        spaced("customer", 80.0, 90.0, "好的我考虑一下"),
    ]
    metrics = conversation_metrics(turns, 100.0, "zh", [sentiment(0, -0.4), sentiment(2, 0.6)])
    result = result_with(metrics)
    data = json.loads(result.to_json())
    assert data["metrics"]["interruptions"] == [{"by": "sales", "of": "customer", "at": 14.0, "overlap": 1.0}]
    assert data["metrics"]["sales"]["rate_unit"] == "chars_per_min"
    assert data["metrics"]["sentiment"]["quarters"] == [-0.4, None, None, 0.6]
    assert AnalysisResult.from_json(result.to_json()) == result
    # A result written before metrics existed still loads.
    del data["metrics"]
    assert AnalysisResult.from_json(json.dumps(data)).metrics is None


# --- the real stereo call against the parties' own energy --------------------------------------

FRAME = 0.03  # s
FLOOR_MARGIN = 20.0  # dB above the track's noise floor
LEVEL_RANGE = 35.0  # dB below the track's speech level
BRIDGE = 0.3  # s


def energy_talk_time(samples: np.ndarray, rate: int = 16000) -> float:
    """Seconds in which one party's own track (nobody else on it) carries speech.

    30 ms frames; a frame is speech when its RMS is both 20 dB above the track's noise floor
    (10th percentile of the frames that are not digital silence) and within 35 dB of its
    speech level (95th percentile); gaps up to 0.3 s (stop closures, short breaks between
    words) are bridged. The level bound keeps out the quiet non-speech on a gated track:
    the agent's floor is digital silence near -108 dB, so 20-30 dB above it still counts
    typing and handling noise at -55 dB (e.g. 83.9-89.6 s, where nobody says a word) as
    talk; telephone speech stays within about 30-35 dB of the talker's peaks.
    """
    hop = int(FRAME * rate)
    n = len(samples) // hop
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    db = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-10)
    floor = np.percentile(db[db > -150], 10)
    level = np.percentile(db, 95)
    active = db > max(floor + FLOOR_MARGIN, level - LEVEL_RANGE)
    on = np.flatnonzero(active)
    for a, b in zip(on[:-1], on[1:], strict=True):
        if 1 < b - a <= round(BRIDGE / FRAME) + 1:
            active[a:b] = True
    return float(active.sum() * FRAME)


@pytest.fixture(scope="module")
def repairs_stereo(tmp_path_factory, repairs_parts) -> Path:
    agent, caller = repairs_parts
    path = tmp_path_factory.mktemp("calls") / "repairs_stereo.wav"
    return write_audio(path, np.stack([agent, caller]), 16000, "pcm_s16le", "wav")


@pytest.mark.slow
def test_talk_ratio_agrees_with_energy_on_the_stereo_call(
    pipeline, repairs_stereo: Path, repairs_parts
) -> None:
    result = pipeline.analyze(repairs_stereo)
    m = result.metrics
    assert m is not None and "metrics" in result.timings
    agent, caller = (energy_talk_time(x) for x in repairs_parts)
    energy_ratio = agent / (agent + caller)
    print(
        f"sales talk ratio: metric {m.sales.talk_ratio:.3f} ({m.sales.talk_time:.1f} s vs "
        f"{m.customer.talk_time:.1f} s), energy {energy_ratio:.3f} ({agent:.1f} s vs {caller:.1f} s)"
    )
    assert abs(m.sales.talk_ratio - energy_ratio) <= 0.05
    # Each party's talk time itself is close to its energy (Whisper cuts word ends short).
    assert m.sales.talk_time == pytest.approx(agent, rel=0.15)
    assert m.customer.talk_time == pytest.approx(caller, rel=0.15)
    assert m.sales.questions >= 3  # "How can I help you today?", "Could you spell that ...?"
    assert m.talk_time + m.silence_time == pytest.approx(m.duration, abs=0.01)
    assert AnalysisResult.from_json(result.to_json()) == result
