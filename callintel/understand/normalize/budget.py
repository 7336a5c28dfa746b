"""Budgets: the amount a customer means to spend, read from a span in yuan or the call's
currency (二十万左右, 15到20万, under thirty grand), the call's currency, and the
``budget_band`` tag."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from callintel.understand.normalize.keywords import CJK, compile_table, prepare, scan
from callintel.understand.normalize.numbers import arabic, english_numbers, expand_pairs

_QUANTITY = re.compile(
    r"(?<![\d.])(?>(?P<num>\d+(?:\.\d+)?)\s*(?P<fuzz>几|多|来)?\s*"
    r"(?P<unit>W|k(?![a-z])|千(?!米)|thousand|grand|million|mil(?![a-z])|m(?![a-z]))?\s*(?P<more>多)?)"
    # Counts of other things: days, months, km, kids, seats, the 3 of 第3辆 ...
    r"(?!\s*(?:天|日|周|星期|礼拜|个|月|年|号|点|岁|公里|千米|km|kw|%|分|小时|次|辆|台|口|人|座|米|"
    r"days?|weeks?|months?|years?|kids?|children|seats?|people|miles?|kilomet))"
)
_RANGE_SEPARATOR = re.compile(r"\s*(?:到|至|-|~|～|—|–|to|and|或者|或|or)\s*")
_UNIT_WAN = re.compile(
    r"(?<=[\d零〇一二两三四五六七八九十百几多来])\s*(?:个?\s*(?:万|w|wan)(?![a-z])"
    # 二十个 / 二十个左右 / 二十到三十个: a bare 个 ending an amount is 万 in car-price talk
    r"|个(?=\s*(?:左右|上下|的样子|以内|之内|以下|以上|出头|吧|啊|呢|到|至|-|~|～|[，。,.!?；;]|$)))"
)
_UNIT_SCALE = {"W": 10_000, "k": 1_000, "千": 1_000, "thousand": 1_000, "grand": 1_000}
_MILLION = 1_000_000
_BUDGET_LIMITS = (10_000, 50_000_000)
# fmt: off
_BUDGET_MODIFIERS = compile_table(
    {
        "upper": [
            "以内", "之内", "以下", "内(?!饰|部|容|心|存)", "不超过", "不能超过", "别超过", "不要超过",
            "别超", "不能超", "不超", "can.?t go (?:past|over|above)", "cannot go (?:past|over|above)",
            "ceiling",
            "最多", "顶多", "撑死", "最高", "封顶", "nothing over",
            "nothing above", "不到", "不足", "低于", "少于", "under", "below", "less than",
            "up to", "at most", "no more than", "not more than", "max(?:imum)?", "within", "tops",
            "or less",
        ],
        "lower": [
            "以上", "起步", "起码", "至少", "最少", "不低于", "不少于", "超过", "多于", "往上", "over",
            "above", "more than", "at least", "minimum", "or more", "plus",
        ],
        # 控制在20万 caps the budget, 控制在20万左右 only aims at it: weaker than 左右
        "aim": ["控制在"],
        "slightly_over": ["出头", "a bit over", "just over", "slightly over", "a little over"],
        "approx": [
            "左右", "上下", "差不多", "大概", "大约", "约", "估计", "将近", "接近", "前后", "around",
            "about", "roughly", "approximately", "approx", "give or take", "or so", "ish", "的样子",
            "something like", "in the region of", "ballpark", "or thereabouts", "more or less",
        ],
    }
)
# fmt: on


@dataclass(frozen=True)
class _Quantity:
    start: int
    end: int
    low: float
    high: float
    approx: bool
    has_unit: bool


def _budget_text(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3})", "", prepare(text))
    # "forty to forty-five thousand": thousand as a unit (grand), so that it carries to the
    # first number of a range as 万 does; number words before it are read as a number.
    text = re.sub(r"(?<=[a-z])[\s-]+thousand\b", " grand", text)
    # "between twenty-five and twenty-seven" is a range, not 25 + 27.
    text = re.sub(r"\bbetween ([a-z0-9 .-]+?) and ", r"between \1 to ", text)
    text = _UNIT_WAN.sub("W", expand_pairs(text))  # 'W' (upper case: text is lower) marks 万
    return english_numbers(arabic(text))


def _quantity(m: re.Match[str], chinese: bool, unit: str | None) -> _Quantity | None:
    num = float(m["num"])
    if unit in ("million", "mil", "m"):
        scale = _MILLION
    elif unit:
        scale = _UNIT_SCALE[unit]
    elif num >= _BUDGET_LIMITS[0]:
        scale = 1
    elif chinese and 2 <= num <= 500:
        scale = 10_000  # a bare 15 or 二十 in a Chinese budget means 万
    elif not chinese and 10 <= num <= 300:
        scale = 1_000  # "under thirty-five", "around fifty-five ish": thousands in car-price talk
    else:
        return None
    low = high = num
    if m["fuzz"] in ("几", "多") or m["more"]:
        step = 10 ** math.floor(math.log10(num)) if num >= 1 else 1
        high = num + step
    return _Quantity(m.start(), m.end(), low * scale, high * scale, m["fuzz"] == "来", bool(unit))


def normalize_budget(text: str) -> tuple[int | None, int | None] | None:
    """A budget in yuan as ``(min, max)``; None when the text names no amount.

    Rules (Chinese numerals read by cn2an; 万, w, W, 个w and wan all mean 10 000; k, 千,
    thousand, grand 1 000; m, million 1 000 000; currency words and $ are ignored, since the
    English dialogues are China-market too; a bare number 2-500 in Chinese text is in 万):

    - a range, 15到20万, 十五到二十万, 15-20万, 150k to 200k, between 150k and 200k -> (150000, 200000);
      the unit of the second number carries to the first; spoken pairs 十五六万 -> (150000, 160000);
    - about, 二十万左右 / 上下 / 差不多 / 大概 / 的样子 / 二十来万 / around / something like 200k
      -> +-10%: (180000, 220000);
    - 二十个 (colloquial) is 二十万 when the amount ends there (二十个左右, 二十到三十个);
    - 控制在20万 caps it, (None, 200000), but 控制在20万左右 is about 20万;
    - open above, 20万以内 / 不超过20万 / 最多 / 不到 / under 200k -> (None, 200000);
    - open below, 30万以上 / 至少 / 不低于 / over 300k / at least -> (300000, None);
    - 二十多万, 二十几万 -> (200000, 300000) (the next step of the number's last digit), 十几万 ->
      (100000, 200000), 5万多 -> (50000, 60000); 二十万出头 -> (200000, 220000);
    - several amounts that are not a range (至少15万最多20万) -> (the least, the most);
    - one amount and no qualifier, 20万 -> (200000, 200000).

    Amounts outside 10 000 - 50 000 000 yuan are ignored (a 5000 monthly payment, 千万别).
    """
    prepared = _budget_text(text)
    chinese = bool(re.search(f"[{CJK}]", prepared))
    matches = list(_QUANTITY.finditer(prepared))
    quantities: list[_Quantity] = []
    i = 0
    while i < len(matches):
        m = matches[i]
        nxt = matches[i + 1] if i + 1 < len(matches) else None
        if nxt is not None and _RANGE_SEPARATOR.fullmatch(prepared[m.end() : nxt.start()]) and nxt["unit"]:
            first = _quantity(m, chinese, m["unit"] or nxt["unit"])
            second = _quantity(nxt, chinese, nxt["unit"])
            if first is not None and second is not None:
                low, high = min(first.low, second.low), max(first.high, second.high)
                quantities.append(_Quantity(m.start(), nxt.end(), low, high, False, True))
                quantities.append(quantities[-1])  # a range counts as two amounts
                i += 2
                continue
        q = _quantity(m, chinese, m["unit"])
        if q is not None:
            quantities.append(q)
        i += 1
    quantities = [q for q in quantities if _BUDGET_LIMITS[0] <= q.low and q.high <= _BUDGET_LIMITS[1]]
    if not quantities:
        return None
    if len(quantities) > 1:
        return round(min(q.low for q in quantities)), round(max(q.high for q in quantities))
    q = quantities[0]
    kinds = {h.value for h in scan(_BUDGET_MODIFIERS, prepared) if not (q.start <= h.start < q.end)}
    if "upper" in kinds:
        return None, round(q.high)
    if "lower" in kinds:
        return round(q.low), None
    if "slightly_over" in kinds and q.low == q.high:
        return round(q.low), round(q.low * 1.1)
    if (q.approx or "approx" in kinds) and q.low == q.high:
        return round(q.low * 0.9), round(q.high * 1.1)
    if "aim" in kinds:
        return None, round(q.high)
    return round(q.low), round(q.high)


# Money words of a call, strongest first: a currency named outright, then the words of the
# country a dealer is in (a budget of "forty grand" is in the currency of the showroom).
_CURRENCY_NAMED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        ("GBP", r"£|\bpounds?\b|\bquid\b|\bgbp\b"),
        ("EUR", r"€|\beuros?\b|\beur\b"),
        ("AUD", r"\baud\b|a\$|aussie dollars?|australian dollars?"),
        ("CAD", r"\bcad\b|c\$|canadian dollars?"),
        ("NZD", r"\bnzd\b|nz\$|kiwi dollars?"),
        ("USD", r"\busd\b|us\$|\bbucks\b"),
        ("CNY", r"[元块]钱?|万块|人民币|\byuan\b|\brmb\b|\bcny\b"),
    )
)
_CURRENCY_REGION: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        # Australia: on-road prices are "drive away"; utes, novated leases, rego, g'day.
        ("AUD", r"drive ?away|\bute\b|\butes\b|novated|\brego\b|g'?day|\barvo\b|\bservo\b|\bmate\b"),
        # UK: part-exchange, PCP finance, the MOT, motorways, petrol.
        ("GBP", r"part[- ]?ex|\bpcp\b|\bmot\b|motorway|\bpetrol\b|\bbrilliant\b|\blovely\b"),
        ("CAD", r"\bcanada\b|\btoronto\b|\bvancouver\b|\bmontreal\b|\bcalgary\b"),
        # North America: dollars, gas, the lot, KBB/Carfax, credit scores.
        ("USD", r"\$|\bdollars?\b|\bgas\b|\bkbb\b|carfax|\bmpg\b|credit score|\bmiles?\b"),
    )
)


def script_counts(text: str) -> tuple[int, int]:
    """How many Chinese characters and Latin letters ``text`` has (what tells its language)."""
    chinese = sum(1 for c in text if "\u3400" <= c <= "\u9fff")
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    return chinese, latin


def call_currency(text: str) -> str:
    """The ISO 4217 code a call's amounts are in: a currency it names (£, quid, 元, bucks),
    else the one of the market its words belong to (drive away: AUD; part-ex: GBP; gas,
    dollars: USD); a Chinese call, or an English call with no clue at all, is in yuan (the
    China-market English of the corpus)."""
    chinese, latin = script_counts(text)
    if chinese * 2 > latin:
        return "CNY"
    for table in (_CURRENCY_NAMED, _CURRENCY_REGION):
        counts = {code: len(pattern.findall(text)) for code, pattern in table}
        best = max(counts, key=lambda code: counts[code])
        if counts[best]:
            return best
    return "CNY"


def budget_band(low: int | None, high: int | None, currency: str = "CNY") -> str:
    """The ``budget_band`` tag value: a 5万-wide band such as ``20-25万``.

    In another currency the bands are 5 thousand wide and carry the code: ``USD 40-45k``,
    ``GBP ≤30k``.

    A closed budget goes in the band holding its midpoint (18-22万 -> ``20-25万``, 15-20万 ->
    ``15-20万``; a midpoint on a boundary goes up), so a range spanning bands gets one band and
    the bands stay a fixed set for CRM segments. From 100万 up the band is ``≥100万``. An
    open-ended budget keeps its bound: (None, 200000) -> ``≤20万``, (300000, None) -> ``≥30万``.
    """
    wan = 10_000
    if low is None and high is None:
        raise ValueError("budget_band needs a min or a max")
    if currency != "CNY":
        return f"{currency} {_thousands_band(low or None, high)}"
    if low is None:
        return f"≤{_wan(high)}万"
    if high is None:
        return f"≥{_wan(low)}万"
    band = int(((low + high) / 2) // (5 * wan)) * 5
    if band >= 100:
        return "≥100万"
    return f"{band}-{band + 5}万"


def _thousands_band(low: int | None, high: int | None) -> str:
    k = 1_000
    if low is None:
        return f"≤{(high or 0) / k:g}k"
    if high is None:
        return f"≥{low / k:g}k"
    band = int(((low + high) / 2) // (5 * k)) * 5
    return f"{band}-{band + 5}k"


def _wan(yuan: int | None) -> str:
    value = (yuan or 0) / 10_000
    return f"{value:g}"
