"""Purchase timelines: the days from the call date within which the customer means to buy
(这周 7, 下个月 30, 年底, 明年初, next Saturday), and the ``purchase_timeline`` tag."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable

from callintel.domain import GRADE_MAX_DAYS
from callintel.understand.normalize.keywords import prepare
from callintel.understand.normalize.numbers import to_digits

# Chinese New Year (春节): the date of 正月初一 per year; other years fall back to 1 February.
_SPRING_FESTIVAL = {
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
    2031: dt.date(2031, 1, 23),
    2032: dt.date(2032, 2, 11),
}


def _next_spring_festival(day: dt.date) -> dt.date:
    for year in (day.year, day.year + 1):
        festival = _SPRING_FESTIVAL.get(year, dt.date(year, 2, 1))
        if festival >= day:
            return festival
    return dt.date(day.year + 2, 2, 1)


def _next_date(day: dt.date, month: int, dom: int) -> dt.date:
    this_year = dt.date(day.year, month, dom)
    return this_year if this_year >= day else dt.date(day.year + 1, month, dom)


TimelineRule = Callable[[re.Match[str], dt.date], int | None]


def _days(n: int) -> TimelineRule:
    return lambda m, day: n


def _times(unit_days: int) -> TimelineRule:
    return lambda m, day: round(float(m["n"]) * unit_days)


def _until(month: int, dom: int) -> TimelineRule:
    return lambda m, day: (_next_date(day, month, dom) - day).days


def _year_end(m: re.Match[str], day: dt.date) -> int:
    return (dt.date(day.year, 12, 31) - day).days


def _this_month_end(m: re.Match[str], day: dt.date) -> int:
    """月底 like 年底: the days left to the last day of the call's month."""
    return calendar.monthrange(day.year, day.month)[1] - day.day


def _next_year(month: int, dom: int) -> TimelineRule:
    """Days to a date of the year after the call's (明年初: 31 January, 明年底: 31 December,
    明年年中: 1 July)."""
    return lambda m, day: (dt.date(day.year + 1, month, dom) - day).days


def _spring_festival(offset: int) -> TimelineRule:
    return lambda m, day: (_next_spring_festival(day) - day).days + offset


def _next_month_day(dom: int) -> TimelineRule:
    def rule(m: re.Match[str], day: dt.date) -> int:
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return (dt.date(year, month, dom) - day).days

    return rule


def _month_end(m: re.Match[str], day: dt.date) -> int | None:
    month = int(m["m"])
    if not 1 <= month <= 12:
        return None
    year = day.year if month >= day.month else day.year + 1
    return (dt.date(year, month, calendar.monthrange(year, month)[1]) - day).days


def _weekday(m: re.Match[str], day: dt.date) -> int:
    target = 7 if m["wd"] in ("日", "天") else int(m["wd"])
    return (target - day.isoweekday()) % 7


def _next_weekday(m: re.Match[str], day: dt.date) -> int:
    """下周六 / next Saturday: that weekday of the next calendar week (下下周六: the one after)."""
    target = 7 if m["wd"] in ("日", "天") else int(m["wd"])
    weeks = 2 if m.group(0).startswith("下下") else 1
    return 7 * weeks - day.isoweekday() + target


_EN_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}
_EN_MONTH = "(?P<mon>" + "|".join(sorted(_EN_MONTHS, key=len, reverse=True)) + r")(?![a-z])"
_EN_WEEKDAYS = {
    name: number
    for number, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), 1
    )
}
_EN_ORDINALS = {
    word: n
    for n, word in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
        "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split(),
        1,
    )
} | {"thirtieth": 30}
_EN_DAY = (
    r"(?P<d>\d{1,2}|"
    + "|".join(_EN_ORDINALS)
    + r"|twenty[- ](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|thirty[- ]first)"
    + r"(?:st|nd|rd|th)?"
)


def _day_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text in _EN_ORDINALS:
        return _EN_ORDINALS[text]
    tens, unit = re.split(r"[- ]", text)
    return {"twenty": 20, "thirty": 30}[tens] + _EN_ORDINALS[unit]


def _month_number(m: re.Match[str]) -> int:
    return _EN_MONTHS[m["mon"]] if m.groupdict().get("mon") else int(m["m"])


def _on_date(dom: int | None = None) -> TimelineRule:
    """Days to a day of a month said (3月15号, the fifteenth of December; mid-January: ``dom`` 15)."""

    def rule(m: re.Match[str], day: dt.date) -> int | None:
        month = _month_number(m)
        number = dom if dom is not None else _day_number(m["d"])
        if not 1 <= month <= 12 or not 1 <= number <= calendar.monthrange(day.year + 1, month)[1]:
            return None
        return (_next_date(day, month, number) - day).days

    return rule


def _en_month_end(m: re.Match[str], day: dt.date) -> int:
    month = _EN_MONTHS[m["mon"]]
    year = day.year if month >= day.month else day.year + 1
    return (dt.date(year, month, calendar.monthrange(year, month)[1]) - day).days


def _en_weekday(m: re.Match[str], day: dt.date) -> int:
    target = _EN_WEEKDAYS[m["wd"]]
    ahead = (target - day.isoweekday()) % 7
    return ahead + 7 if m.group(0).startswith("next") and ahead < 7 - day.isoweekday() + 1 else ahead


def _couple_few(m: re.Match[str], day: dt.date) -> int:
    count = 2 if m["q"] == "couple" else 3
    return count * {"day": 1, "week": 7, "month": 30}[m["u"]]


_NUM = r"(?<![\d.])(?P<n>\d+(?:\.\d+)?)"
_TIMELINE_RULES: tuple[tuple[re.Pattern[str], TimelineRule], ...] = tuple(
    (re.compile(pattern), rule)
    for pattern, rule in (
        (r"今天|当天|当场|现场|(?<![a-z])today(?![a-z])|(?<![a-z])tonight", _days(0)),
        (r"马上|立刻|立即|立马|现在就|right away|right now|immediately|straight away|at once", _days(1)),
        (r"明天|(?<![a-z])tomorrow", _days(1)),
        (r"后天|day after tomorrow", _days(2)),
        (r"大后天", _days(3)),
        (r"尽快|越快越好|越早越好|(?<![a-z])asap(?![a-z])|as soon as possible", _days(7)),
        (r"过几天|这几天|几天|(?<![a-z])few days", _days(3)),
        (r"(?:(?<![a-z])a\s+)?(?P<q>couple|few)\s+(?:of\s+)?(?P<u>day|week|month)s?", _couple_few),
        (_NUM + r"\s*(?:个)?\s*多?\s*天", _times(1)),
        (r"十来天|十天左右", _days(10)),
        (_NUM + r"\s*来\s*天", _times(1)),
        (_NUM + r"\s*days?(?![a-z])", _times(1)),
        (
            r"这周|本周|这个?星期|这个?礼拜|周末|这周末|"
            r"this week(?:end)?|the weekend|end of (?:the|this) week|within the week|"
            r"before the week is out",
            _days(7),
        ),
        (r"(?<![a-z])(?:a|one) week(?![a-z])", _days(7)),
        (r"下周|下个?星期|下个?礼拜|下周末|next week(?:end)?", _days(14)),
        (r"下下周|下下个?星期|week after next", _days(21)),
        (r"几周|几个星期|几个礼拜", _days(21)),
        (_NUM + r"\s*(?:个)?\s*(?:周|星期|礼拜)(?![1-7日天])", _times(7)),
        (_NUM + r"\s*weeks?(?![a-z])", _times(7)),
        (r"(?:这|本)?(?:周|星期|礼拜)(?P<wd>[1-6日天])", _weekday),
        (r"下下?个?(?:周|星期|礼拜)(?P<wd>[1-6日天])", _next_weekday),
        (r"(?:next |this |on )?(?P<wd>" + "|".join(_EN_WEEKDAYS) + ")", _en_weekday),
        (r"(?<![a-z])(?:a |the |next |one )?fortnight", _days(14)),
        (r"(?<![\d.])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*(?:号|日)", _on_date()),
        (r"(?<![\d.])(?P<m>\d{1,2})\s*月份?\s*(?:中旬|中)", _on_date(15)),
        (r"(?:the\s+)?" + _EN_DAY + r"\s+(?:of\s+)?" + _EN_MONTH, _on_date()),
        (_EN_MONTH + r"\s+(?:the\s+)?" + _EN_DAY, _on_date()),
        (r"(?:mid|middle of)[- ]?" + _EN_MONTH, _on_date(15)),
        # Not before a month: its first day ("not buying till March").
        (r"(?<![a-z])(?:till|until|til|before) (?:the )?" + _EN_MONTH, _on_date(1)),
        # A month name alone only after a preposition: "may" and "march" are also verbs.
        (r"(?<![a-z])(?:in|by|before|end of|early|late|until|till) (?:the )?" + _EN_MONTH, _en_month_end),
        (r"christmas|xmas", _until(12, 25)),
        (r"(?<![a-z])a month(?![a-z])", _days(30)),
        (r"这个?月|本月|月内|this month", _this_month_end),
        (
            r"(?:这个?|本)?月(?:底|末)|end of (?:the|this) month|before the month is out|month[- ]end",
            _this_month_end,
        ),
        (r"下个?月|next month", _days(30)),
        (r"下个?月(?:中旬|中)|(?:the )?middle of next month|mid[- ]next month", _next_month_day(15)),
        (r"下个?月(?:初|头)|(?:the )?(?:start|beginning) of next month|early next month", _next_month_day(1)),
        (r"半个月|(?<![\d.])0\.5个月|half a month", _days(15)),
        (r"几个月", _days(90)),
        (_NUM + r"\s*个\s*多?\s*月", _times(30)),
        (r"(?<![\d.])(?P<n>\d+)个半月", lambda m, day: round((int(m["n"]) + 0.5) * 30)),
        (_NUM + r"\s*months?(?![a-z])", _times(30)),
        (r"(?<![\d.])(?P<m>\d{1,2})\s*月(?:份|底|初|前|之前|末)?", _month_end),
        (r"这个?季度|本季度|(?<![a-z])(?:a|one|this|the) quarter(?![a-z])", _days(90)),
        (_NUM + r"\s*个\s*季度", _times(90)),
        (r"下个?季度|next quarter", _days(180)),
        (r"半年|half a year|half year", _days(180)),
        (r"(?<![\d.])(?P<n>[1-5](?:\.5)?)\s*年(?!级|代|前|底)", _times(365)),
        (_NUM + r"\s*years?(?![a-z])", _times(365)),
        (r"(?<![a-z])(?:a|one) year(?![a-z])", _days(365)),
        (r"明年|next year", _days(365)),
        (r"明年年?底|明年年末|end of next year", _next_year(12, 31)),
        # Early next year is by the end of its January, as the corpus labels it (issue 15).
        (
            r"明年年?初|明年开年|(?:the )?(?:start|beginning) of next year|early next year",
            _next_year(1, 31),
        ),
        (r"明年年?中|(?:the )?middle of next year|mid[- ]next year", _next_year(7, 1)),
        (
            r"年底|年末|年前|年内|今年|岁末|年终(?!奖|分红)|this year|end of (?:the|this) year|year[ -]end|"
            r"by (?:the )?end of (?:the )?year",
            _year_end,
        ),
        (
            r"春节|过年|开年|(?:chinese|lunar) new year|spring festival|(?<![a-z])cny(?![a-z])",
            _spring_festival(0),
        ),
        (
            r"年后|过完年|春节后|春节之后|过了年|"
            r"after (?:the )?(?:chinese|lunar) new year|after (?:the )?spring festival",
            _spring_festival(15),
        ),
        (r"国庆|national day|golden week", _until(10, 1)),
        (r"劳动节|(?<![\d.])51(?:前|之前|假期)|may day", _until(5, 1)),
        (r"双\s*11|singles'? day|double eleven", _until(11, 11)),
        (r"元旦|new year's day", _until(1, 1)),
        (r"最近|近期|这段时间|近段时间|(?<![a-z])soon(?![a-z])|shortly|in the near future", _days(30)),
    )
)


def normalize_timeline(text: str, call_date: dt.date) -> int | None:
    """Days from the call date within which the customer means to buy; None when no time is said.

    Fixed spans: 今天/today -> 0; 马上/立刻/right away, 明天/tomorrow -> 1; 后天 -> 2; 大后天 -> 3;
    (过)几天/a few days -> 3; 尽快/asap -> 7; 这周/本周/周末/this week -> 7 (not the days left in the
    week: DOMAIN.md); 下周/next week -> 14; 下下周 -> 21; 下个月/next month -> 30 (DOMAIN.md);
    半个月 -> 15; 一个季度 -> 90; 下个季度 -> 180; 半年 -> 180; 明年/next year -> 365;
    最近/近期/soon -> 30; a fortnight -> 14.
    Counted: N天/N days -> N; N周/N weeks -> 7N; N个月/N months -> 30N; N个季度 -> 90N;
    N年/N years -> 365N; a couple of / a few days, weeks, months -> 2 or 3 of them;
    两三天 -> 3 and 一两个月 -> 60 (a spoken range takes its upper end).
    Dated: 这个月/本月/this month, 月底/月末/end of the month/before the month is out -> days to
    the last day of the call's month (like 年底); 下个月中旬/mid next month -> to the 15th of the
    next month, 下个月初 -> to its 1st; 年底/年前/年内/今年/by the end of the year -> days to
    31 December of the call's year; 明年底 -> to 31 December of the next year; 明年初/start of next year ->
    to 31 January of the next year (by the end of its first month); 明年年中/middle of next year ->
    to 1 July of the next year;
    春节(前)/过年/开年/before Chinese New Year -> days to the next Spring Festival (a table of
    its dates 2023-2032, 1 February outside it); 年后/过完年 -> that plus 15; 国庆 -> to
    1 October, 五一/劳动节 -> 1 May, 双十一 -> 11 November, 元旦 -> 1 January
    (the next one), Christmas -> 25 December; N月(份/底)/in January -> to the end of that month;
    N月中(旬)/mid-January -> to its 15th; 3月15号/the fifteenth of March/March 15th -> to that day;
    周三/星期五/Saturday -> days to that weekday; 下周六/下下周六 -> that weekday of the next week
    (or the one after).
    No rush (不急, 还早, 再说, no rush, just looking) says no time and gives None.
    When several spans are said, the last wins: people correct themselves (这周不行，下周吧 -> 14).
    """
    prepared = to_digits(prepare(text).replace("五一", "劳动节"))
    hits: list[tuple[int, int, re.Match[str], TimelineRule]] = []
    for pattern, rule in _TIMELINE_RULES:
        hits.extend((m.start(), m.start() - m.end(), m, rule) for m in pattern.finditer(prepared))
    hits.sort(key=lambda h: (h[0], h[1]))
    kept: list[tuple[re.Match[str], TimelineRule]] = []
    end = -1
    for start, _, m, rule in hits:
        if start >= end and m.end() > start:
            kept.append((m, rule))
            end = m.end()
    for m, rule in reversed(kept):
        days = rule(m, call_date)
        if days is not None and days >= 0:
            return days
    return None


def timeline_bucket(days: int | None) -> str:
    """The ``purchase_timeline`` tag value, on the grade boundaries of ``GRADE_MAX_DAYS`` (so the
    tag and the grade never disagree): ``≤7d``, ``≤15d``, ``≤30d``, ``≤120d`` (H, A, B, C), and
    ``>120d`` (N) for later ones and for None, no timeline."""
    for limit in GRADE_MAX_DAYS.values():
        if days is not None and days <= limit:
            return f"≤{limit}d"
    return f">{max(GRADE_MAX_DAYS.values())}d"
