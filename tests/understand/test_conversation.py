"""The conversation readers and the shapes of error issue 14 found on natural dialogues.

Every sentence here is written for the test (none is copied from the natural set): the aim is
the kind of error, not a sentence.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from callintel.domain import CHECKPOINTS, GRADES, VIOLATIONS
from callintel.settings import Settings
from callintel.understand.classifiers import CallTurn, call_language
from callintel.understand.conversation import (
    read_budget,
    read_cars,
    read_declined,
    read_payment,
    read_timeline,
    read_trade_in,
)
from callintel.understand.intent import customer_characters, grade_probabilities
from callintel.understand.normalize import Gazetteer, budget_band, call_currency
from callintel.understand.scoring import ScoredTurn, Scorer, load_scorecards

FRIDAY = dt.date(2026, 11, 20)


def call(*lines: str) -> list[CallTurn]:
    """Turns from 'S: …' / 'C: …' lines."""
    return [CallTurn("sales" if line[0] == "S" else "customer", line[3:]) for line in lines]


@pytest.fixture(scope="module")
def gazetteer(settings: Settings) -> Gazetteer:
    return Gazetteer.from_models_dir(settings.models_dir)


# --- Violations: ordinary sales talk is not one ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "两位先到休息区坐一下，我给您倒杯咖啡，慢慢看。",
        "您之前开的是哪个牌子哪个型号的车？",
        "人家那款车也不错，油耗确实低一点，我们这台主要是空间大、隔音好，您可以都开开对比。",
        "Grab a seat, can I get you a coffee or a water while I pull the keys?",
        "Which make and model are you driving at the moment?",
        "The other one's a good car too, fair play, it's a bit cheaper; ours has the bigger boot.",
    ],
)
def test_ordinary_sales_talk_is_no_violation_whatever_the_classifier_says(
    settings: Settings, text: str
) -> None:
    turn = ScoredTurn(0, "sales", text, 0.0, 5.0, {}, dict.fromkeys(VIOLATIONS, 0.9))
    for card in load_scorecards(settings.models_dir).values():
        assert Scorer(card).score([turn]).violations == ()


@pytest.mark.parametrize(
    ("text", "violation"),
    [
        ("那家的车您千万别碰，开不了三年就得大修。", "disparage_competitor"),
        ("不买就别在这摸来摸去的，我还有别的客户。", "rude"),
        ("我跟您保证，这车十年都不会出任何毛病。", "forbidden_promise"),
        ("If you're not buying today I don't see why you're wasting my afternoon.", "rude"),
    ],
)
def test_a_violation_said_in_other_words_is_found_by_the_lexicon(
    settings: Settings, text: str, violation: str
) -> None:
    turn = ScoredTurn(0, "sales", text, 0.0, 5.0, {}, dict.fromkeys(VIOLATIONS, 0.01))
    card = load_scorecards(settings.models_dir)["showroom"]
    found = Scorer(card).score([turn]).violations
    assert violation in {v.type for v in found}
    assert all(v.matched for v in found)  # each names the cue that decided it, and its turn
    assert all(v.turn == 0 for v in found)


# --- Cars: the one they drive now, the one they compare, the one they want --------------------


def test_the_current_car_is_no_model_of_interest_and_a_compared_one_is_a_competitor(
    gazetteer: Gazetteer,
) -> None:
    turns = call(
        "S: 您好，欢迎光临比亚迪4S店，我是顾问小李。",
        "C: 我家那台老卡罗拉开了八年了，想换个大点的。",
        "S: 那您可以看看唐，七座的。",
        "C: 唐DM-i我挺喜欢，不过我也看了理想L6，那个也不错。",
        "S: 唐的后排空间更大一些。",
    )
    interest, competitors = read_cars(turns, gazetteer)
    assert [s.value for s in interest] == ["比亚迪 唐"]
    assert [s.value for s in competitors] == ["理想 L6"]
    assert all(s.turn in (2, 3) for s in interest + competitors)  # each cites its turn


def test_a_car_only_the_salesperson_names_is_no_interest_when_the_customer_declines(
    gazetteer: Gazetteer,
) -> None:
    turns = call(
        "S: 您好，我是吉利4S店的小王，上周您看过星越L，考虑得怎么样？",
        "C: 不好意思，我们已经在别家买了，不用了。",
    )
    interest, _ = read_cars(turns, gazetteer)
    assert interest == []
    declined = read_declined(turns)
    assert declined is not None and declined.value == "lost"


def test_english_calls_name_cars_in_english_from_the_same_entries(tmp_path: Path) -> None:
    cars = tmp_path / "cars.yaml"
    cars.write_text(
        "brands:\n"
        "  - name: 丰田\n"
        "    en: Toyota\n"
        "    aliases: [Toyota]\n"
        "    models:\n"
        "      - {name: RAV4荣放, en: RAV4, aliases: [荣放], powertrain: hybrid, body_type: suv,"
        " price_cny: [170000, 260000]}\n",
        "utf-8",
    )
    gazetteer = Gazetteer.load(cars)
    assert gazetteer.find_models("we liked the RAV4 hybrid") == ("丰田 RAV4荣放",)
    assert gazetteer.named("丰田 RAV4荣放", "en") == "Toyota RAV4"
    assert gazetteer.named("丰田 RAV4荣放", "zh") == "丰田 RAV4荣放"
    assert gazetteer.named("丰田", "en") == "Toyota"
    assert call_language(call("C: we liked the RAV4 hybrid a lot", "S: 好的")) == "en"


# --- Budget: what a number in the answer is -----------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        ("S: 您的旧车评估师看了，能给到四万二。", "C: 四万二太低了，我朋友说能卖五万。"),
        ("S: 首付您打算付多少？", "C: 首付五万吧，月供别超过三千。"),
        ("S: 这台落地二十一万八。", "C: 二十一万八？"),
        ("C: 我一个月工资也就八千多。",),
        ("S: What would you want for the trade?", "C: I was hoping for twelve grand for it."),
        ("S: The monthly on that is about four-fifty.", "C: Four-fifty a month is fine."),
    ],
)
def test_a_trade_in_an_instalment_a_salary_or_a_quote_is_no_budget(lines: tuple[str, ...]) -> None:
    assert read_budget(call(*lines)) is None


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("S: 您预算大概多少？", "C: 十七八万吧，家里人都同意了。"), {"min": 170000, "max": 180000}),
        (("C: 说好了落地不能超过二十五个，这是底线。",), {"min": 0, "max": 250000}),
        (
            ("S: What sort of budget are you working with?", "C: Around forty grand."),
            {"min": 36000, "max": 44000},
        ),
        (("C: We need to stay under thirty-five, tops.",), {"min": 0, "max": 35000}),
    ],
)
def test_a_stated_budget_is_read_with_its_turn(lines: tuple[str, ...], expected: dict[str, int]) -> None:
    said = read_budget(call(*lines))
    assert said is not None and said.value == expected
    assert said.turn == len(lines) - 1


def test_budgets_carry_the_currency_spoken() -> None:
    assert call_currency("we can do about thirty grand drive away mate") == "AUD"
    assert call_currency("our limit's twenty-five thousand pounds, part-ex included") == "GBP"
    assert call_currency("under forty, that's with tax, and gas is killing me") == "USD"
    assert call_currency("预算二十万左右") == "CNY"
    assert budget_band(36000, 44000, "GBP") == "GBP 40-45k"
    assert budget_band(None, 30000, "USD") == "USD ≤30k"


# --- Timeline: from words about buying, not from any time said -----------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        ("S: 平时怎么用车？", "C: 每个周末都回一趟老家，两百来公里。"),
        ("C: 这车我才买了三年，还新着呢。",),
        ("S: 贷款可以做三年。", "C: 零息三年那挺好。"),
        ("C: We drive down to the coast a few times a year.",),
        ("C: My neighbour picked his up last week.",),
        ("C: 明年也不一定换，看情况吧。",),
    ],
)
def test_a_time_that_is_not_of_buying_is_no_timeline(lines: tuple[str, ...]) -> None:
    assert read_timeline(call(*lines), FRIDAY) is None


@pytest.mark.parametrize(
    ("lines", "days"),
    [
        (("C: 行，那我下个礼拜三过来把定金交了。",), 5),  # next week's Wednesday, from a Friday
        (("S: 您打算什么时候提车？", "C: 十二月中旬吧。"), 25),
        (("C: 等年终奖发了再说，估计一月底。",), 72),
        (("C: We'll sign on Saturday if the numbers work.",), 1),
        (("C: Our lease runs out at the end of January, so we need something by then.",), 72),
    ],
)
def test_a_time_for_buying_is_read(lines: tuple[str, ...], days: int) -> None:
    said = read_timeline(call(*lines), FRIDAY)
    assert said is not None and said.value == days


# --- Payment and trade-in -------------------------------------------------------------------------


def test_payment_and_trade_in_from_the_customers_words() -> None:
    full = call("S: 全款还是贷款？", "C: 全款，不整贷款，月供多少我也不关心。")
    assert read_payment(full) is not None and read_payment(full).value == "full"  # type: ignore[union-attr]
    lease = call("C: I'd do it through a novated lease, what's the monthly on that?")
    assert read_payment(lease).value == "lease"  # type: ignore[union-attr]
    none = call("C: 我第一台车，没旧车可以置换。")
    assert read_trade_in(none).value is False  # type: ignore[union-attr]
    valued = call("S: Our appraiser's got your Civic at six thousand.", "C: I was thinking more like eight.")
    assert read_trade_in(valued).value is True  # type: ignore[union-attr]


# --- Grade: a call with too little to go on says so ---------------------------------------------


def test_a_short_clip_with_no_sales_talk_gets_no_confident_grade() -> None:
    confident_b = np.array([0.01, 0.01, 0.96, 0.01, 0.01])
    said = customer_characters(["嗯", "好的"])
    probabilities = grade_probabilities(confident_b, GRADES, None, 0.99, None, said)
    assert probabilities.max() < 0.5
    assert probabilities.sum() == pytest.approx(1.0)
    # A stated timeline decides the grade even against a confident classifier.
    stated = grade_probabilities(confident_b, GRADES, 3, 0.99, None, 400)
    assert GRADES[int(stated.argmax())] == "H"
    # Bought elsewhere: N, whatever time is mentioned.
    lost = grade_probabilities(confident_b, GRADES, 3, 0.99, "lost", 400)
    assert GRADES[int(lost.argmax())] == "N"


def test_checkpoint_and_grade_names_are_the_taxonomy() -> None:
    assert "closing_commitment" in CHECKPOINTS and GRADES == ("H", "A", "B", "C", "N")


def test_a_question_about_when_is_no_timeline_even_where_the_tagger_saw_one() -> None:
    from callintel.understand.conversation import plausible

    question = CallTurn("customer", "The brakes feel off. So how soon can we take it in?")
    assert not plausible("purchase_timeline_days", question, "soon can we take it in?")
    assert read_timeline([question], FRIDAY) is None
    plan = CallTurn("customer", "我们大概下个月吧。")
    assert plausible("purchase_timeline_days", plan, "下个月")


def test_a_car_the_salesperson_recommends_for_you_is_not_yours(gazetteer: Gazetteer) -> None:
    turns = call(
        "S: 您好，欢迎光临吉利4S店，我是小张。",
        "C: 想看看SUV，家里两个孩子。",
        "S: 那星越L很适合您的需求，后排空间大。",
        "C: 星越L多少钱？",
    )
    interest, _ = read_cars(turns, gazetteer)
    assert [s.value for s in interest] == ["吉利 星越L"]


def test_the_customers_car_named_beside_another_in_one_clause_is_theirs(gazetteer: Gazetteer) -> None:
    turns = call(
        "S: Morning, thanks for coming in to Harbour Ford, I'm Dan.",
        "C: just having a look at the rangers mate my hilux is getting a bit tired",
    )
    interest, competitors = read_cars(turns, gazetteer)
    assert [s.value for s in interest] == ["福特 Ranger"]
    assert competitors == []  # the Hilux is the customer's own, not a car they compare
