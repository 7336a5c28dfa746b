"""PII redaction: each kind in Mandarin and English, generated numbers in every rendering,
sales talk that must stay untouched, turns with words, JSON payloads, and muted audio."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import av
import numpy as np
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callintel.errors import NotAudioError
from callintel.store.redact import (
    PII_KINDS,
    PiiSpan,
    RedactedSpan,
    find_pii,
    id_card_check_char,
    is_id_card,
    luhn_ok,
    mask_text,
    mute,
    mute_file,
    redact_json,
    redact_turns,
    to_ascii_digits,
)
from tests.helpers import tone, write_audio

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True)


def kinds_and_texts(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_pii(text)]


def redacted(text: str) -> str:
    return mask_text(text, find_pii(text))


# ---------------------------------------------------------------------------------------
# Examples, kind by kind


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("我的电话是幺三八零零幺三八零零零", "幺三八零零幺三八零零零"),
        ("我的电话是幺三八 零零幺三 八零零零，你记一下", "幺三八 零零幺三 八零零零"),
        ("手机号一三九一二三四五六七八，微信同号", "一三九一二三四五六七八"),
        ("您留个电话吧？13800138000", "13800138000"),
        ("号码是１３８００１３８０００对吧", "１３８００１３８０００"),
        ("店里座机010-12345678，周末也有人", "010-12345678"),
        ("深圳店的电话是0755 1234 5678", "0755 1234 5678"),
        ("上海那边打(021)12345678就行", "(021)12345678"),
        ("上海那边打（021）12345678就行", "（021）12345678"),
        ("you can reach me on +44 20 7946 0958 after five", "+44 20 7946 0958"),
        ("Call my cell, +1 415-555-2671, any time.", "+1 415-555-2671"),
        ("我在国外，号码是+86 138 0013 8000", "+86 138 0013 8000"),
        ("打0086 138 0013 8000也行", "0086 138 0013 8000"),
        ("my number is 138-0013-8000, thanks", "138-0013-8000"),
        ("加八六 幺三八零零幺三八零零零", "加八六 幺三八零零幺三八零零零"),
        ("洞幺洞 幺二三四五六七八", "洞幺洞 幺二三四五六七八"),
        ("我手机幺三八 零零幺三 八零零零号码没变", "幺三八 零零幺三 八零零零"),
        ("座机010 80000000", "010 80000000"),
    ],
)
def test_finds_phone_numbers(text: str, number: str) -> None:
    assert kinds_and_texts(text) == [("phone", number)]
    assert_masked(text, text.index(number), number, "phone")


def test_phone_masking_keeps_the_rest_of_the_line() -> None:
    assert (
        redacted("我的电话是幺三八零零幺三八零零零，明天下午来看车")
        == "我的电话是***********，明天下午来看车"
    )
    assert redacted("you can reach me on +44 20 7946 0958.") == "you can reach me on *** ** **** ****."


def test_spoken_plus_is_only_a_country_code_before_one() -> None:
    # 加 + a Chinese mobile means "add (me on WeChat)", not +1 380...
    assert kinds_and_texts("你加13800138000微信吧") == [("phone", "13800138000")]


def test_two_numbers_in_one_run_are_two_spans() -> None:
    assert kinds_and_texts("13800138000 13900139000") == [
        ("phone", "13800138000"),
        ("phone", "13900139000"),
    ]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("身份证号11010519491231002X，您核对一下", "11010519491231002X"),
        ("身份证号码是 110105 19491231 002x", "110105 19491231 002x"),
        ("身份证是幺幺零幺零五幺九四九幺二三幺零零二叉", "幺幺零幺零五幺九四九幺二三幺零零二叉"),
        ("my ID number is 110105194912310021? no wait, 11010519491231002X", "11010519491231002X"),
    ],
)
def test_finds_id_card_numbers(text: str, number: str) -> None:
    assert ("id_card", number) in kinds_and_texts(text)
    assert number not in redacted(text)


def test_id_card_needs_checksum_and_date() -> None:
    assert is_id_card("11010519491231002X")
    assert not is_id_card("110105194912310021")  # wrong check character
    assert not is_id_card("110105194913310027")  # month 13
    assert find_pii("身份证号110105194912310021") == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("贷款卡号是6222 0212 3456 7890 128，工行的", "6222 0212 3456 7890 128"),
        ("pay with card 4111 1111 1111 1111 please", "4111 1111 1111 1111"),
        ("卡号六二二二零二幺二三四五六七八九零幺二八", "六二二二零二幺二三四五六七八九零幺二八"),
    ],
)
def test_finds_bank_cards(text: str, number: str) -> None:
    assert kinds_and_texts(text) == [("bank_card", number)]


def test_bank_card_needs_luhn() -> None:
    assert find_pii("卡号6222021234567890127") == []


@pytest.mark.parametrize(
    ("text", "plate"),
    [
        ("我车牌粤B·D12345，新能源的", "粤B·D12345"),
        ("车牌是京A12345", "京A12345"),
        ("the plate is 沪C 8J888 I think", "沪C 8J888"),
        ("置换的车是苏E 12345，开了五年", "苏E 12345"),
        ("教练车粤B1234学", "粤B1234学"),
        ("asr 写成 粤b d12345 了", "粤b d12345"),
        ("川A幺二三四五", "川A幺二三四五"),
    ],
)
def test_finds_plates(text: str, plate: str) -> None:
    assert kinds_and_texts(text) == [("plate", plate)]


@pytest.mark.parametrize("text", ["京A股大涨", "沪I12345", "粤O12345", "京ABCDEF", "川A1234567"])
def test_not_plates(text: str) -> None:
    assert find_pii(text) == []


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("邮箱是zhang.wei@163.com，报价单发过来", "zhang.wei@163.com"),
        ("send it to john.smith+cars@example.co.uk thanks", "john.smith+cars@example.co.uk"),
        ("QQ邮箱幺二三四五六七八九@qq.com", "幺二三四五六七八九@qq.com"),
        ("it's john dot smith at gmail dot com", "john dot smith at gmail dot com"),
        ("邮箱 wangfang艾特163点com", "wangfang艾特163点com"),
    ],
)
def test_finds_emails(text: str, email: str) -> None:
    assert kinds_and_texts(text) == [("email", email)]


NOT_PII = [
    "预算二十万左右，十五万到二十万都行",
    "月供三千五能接受，一年开一百公里都不到",
    "家里两个孩子，三代同堂，想要七座的",
    "2024年的车，落地25万，利率5.99%",
    "看了领克08、比亚迪汉和问界M7，还有Model 3",
    "二零二四年十月一号来店里，一千零五十块的保养",
    "We're looking at 25,000 to 30,000 dollars, maybe the 2024 model.",
    "0 to 60 in 6.5 seconds, 1.5 litre, 7 seats",
    "VIN LSVAU2180N2123456",
    "一二三四五六七八九十",
    "订单号DD20241001123456",
    "总价1500000元，首付30%",
    "验证码800777，1990年的车",  # digits run on into a year: the 年 ends the number
    "2000-01-01，2009-09-28",  # 16 digits passing Luhn, but two dates, not a card
    "my number? 415 555 2671",  # a US number without +1 is not looked for in region CN
]


@pytest.mark.parametrize("text", NOT_PII)
def test_sales_talk_is_not_pii(text: str) -> None:
    assert find_pii(text) == []
    assert redacted(text) == text


def test_region_decides_numbers_without_country_code() -> None:
    assert kinds_and_texts_region("my number? 415 555 2671", "US") == [("phone", "415 555 2671")]
    assert kinds_and_texts_region("ring 020 7946 0958 tomorrow", "GB") == [("phone", "020 7946 0958")]


def kinds_and_texts_region(text: str, region: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_pii(text, region=region)]


def test_kinds_filter_and_precedence() -> None:
    text = "电话13800138000，身份证11010519491231002X，车牌京A12345"
    assert [s.kind for s in find_pii(text)] == ["phone", "id_card", "plate"]
    assert [s.kind for s in find_pii(text, kinds=["plate"])] == ["plate"]
    # An ID number is not reported as something else when id_card is left out.
    assert find_pii("身份证11010519491231002X", kinds=["phone", "bank_card"]) == []
    # A QQ mail address is an e-mail, not a phone number.
    assert kinds_and_texts("13800138000@qq.com") == [("email", "13800138000@qq.com")]


def test_unknown_kind_is_refused_naming_the_valid_ones() -> None:
    for call in (
        lambda: find_pii("x", kinds=["phone", "ssn"]),
        lambda: redact_turns([], kinds=["ssn"]),
        lambda: redact_json({}, kinds=("ssn",)),
    ):
        with pytest.raises(ValueError, match="ssn") as info:
            call()
        assert all(kind in str(info.value) for kind in PII_KINDS)


def test_mapping_is_one_to_one() -> None:
    text = "幺三八 洞洞七 两千五 加八六 １２３ 〇"
    mapped = to_ascii_digits(text)
    assert len(mapped) == len(text)
    assert mapped == "138 007 2千5 +86 123 0"


def test_mask_text_is_length_preserving_and_keeps_spaces() -> None:
    text = "call 138 0013 8000 now"
    spans = find_pii(text)
    assert mask_text(text, spans) == "call *** **** **** now"
    assert mask_text(text, spans, char="X") == "call XXX XXXX XXXX now"
    with pytest.raises(ValueError):
        mask_text(text, spans, char="**")
    with pytest.raises(ValueError):
        mask_text("short", [PiiSpan(0, 99, "phone", "short")])


# ---------------------------------------------------------------------------------------
# Properties: generated numbers in every rendering, embedded in sales talk

CN_DIGITS = {
    "0": ["零", "〇", "洞"],
    "1": ["一", "幺"],
    "2": ["二", "两"],
    "3": ["三"],
    "4": ["四"],
    "5": ["五"],
    "6": ["六"],
    "7": ["七"],
    "8": ["八"],
    "9": ["九"],
}
ZH_BEFORE = ["我的电话是", "您留个联系方式吧，", "身份证号码是", "卡号是", "好的，记一下：", "嗯", ""]
ZH_AFTER = ["，您记一下。", "。", "，明天我过来看车", "？对吧", "好吧", ""]
EN_BEFORE = ["you can reach me on ", "my number is ", "sure, it's ", "the card is ", ""]
EN_AFTER = [", thanks.", ". See you Saturday.", " if I'm not in the showroom", ""]


@st.composite
def rendered(draw: st.DrawFn, digits: str, allow_plus: bool = False) -> str:
    """``digits`` (and a leading '+' or trailing 'X') as ASCII, full-width or Chinese
    characters, cut into random groups with one kind of separator."""
    style = draw(st.sampled_from(["ascii", "fullwidth", "chinese"]))

    def one(c: str) -> str:
        if c == "+":
            return draw(st.sampled_from(["+", "加"])) if style == "chinese" else "+"
        if c in "Xx":
            return draw(st.sampled_from(["X", "x", "叉"] if style == "chinese" else ["X", "x"]))
        if style == "fullwidth":
            return chr(0xFF10 + int(c))
        if style == "chinese":
            return draw(st.sampled_from(CN_DIGITS[c]))
        return c

    sep = draw(st.sampled_from(["", " ", "-", "."] + (["，", "、"] if style == "chinese" else [])))
    head = ""
    if digits.startswith("+"):
        head, digits = one("+") + draw(st.sampled_from(["", " "])), digits[1:]
    groups: list[str] = []
    rest = digits
    while rest:
        size = draw(st.integers(1, 5))
        groups.append("".join(one(c) for c in rest[:size]))
        rest = rest[size:]
    return head + sep.join(groups)


def digit_strings(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=length, max_size=length)


mobiles = st.builds(lambda second, rest: "1" + second + rest, st.sampled_from("3456789"), digit_strings(9))
landlines = st.builds(
    lambda area, first, rest: area + first + rest,
    st.sampled_from(["010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0755", "0571"]),
    st.sampled_from("2345678"),
    digit_strings(7),
)
REGIONS = ["GB", "US", "DE", "FR", "JP", "HK", "SG", "AU", "KR", "CA", "IN", "TW", "CN"]


@st.composite
def international(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(REGIONS))
    kind = draw(
        st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    national = phonenumbers.national_significant_number(example)
    tail = draw(digit_strings(2))
    varied = phonenumbers.parse(f"+{example.country_code}{national[:-2]}{tail}")
    if phonenumbers.is_valid_number(varied):
        national = national[:-2] + tail
    prefix = draw(st.sampled_from(["+", "00"]))
    return f"{prefix}{example.country_code}{national}"


@st.composite
def id_cards(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(["11", "31", "32", "33", "37", "44", "50", "51", "61", "65"]))
    born = draw(st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2010, 12, 31)))
    first17 = province + draw(digit_strings(4)) + born.strftime("%Y%m%d") + draw(digit_strings(3))
    return first17 + id_card_check_char(first17)


@st.composite
def bank_cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(16, 19))
    body = draw(st.sampled_from(["62", "4", "5", "37"]))
    body += draw(digit_strings(length - 1 - len(body)))
    check = next(d for d in "0123456789" if luhn_ok(body + d))
    return body + check


@st.composite
def plates(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"))
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    city = draw(st.sampled_from(letters))
    if draw(st.booleans()):  # new energy
        tail = (
            draw(st.sampled_from("DF"))
            + draw(st.sampled_from(letters + "0123456789"))
            + draw(digit_strings(4))
        )
    else:
        tail = draw(st.sampled_from(letters + "0123456789")) + draw(digit_strings(4))
    if draw(st.booleans()):
        tail, city = tail.lower(), city.lower()
    return province + city + draw(st.sampled_from(["", "·", " "])) + tail


emails = st.builds(
    lambda user, dot, domain, tld: f"{user}{dot}@{domain}.{tld}",
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10),
    st.sampled_from(["", ".li", "_88", ".wang"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10),
    st.sampled_from(["com", "cn", "com.cn", "net", "co.uk"]),
)


@st.composite
def embedded(draw: st.DrawFn, number: str) -> tuple[str, int]:
    """``number`` between a Mandarin or an English sales line; returns the text and its offset."""
    if draw(st.booleans()):
        before, after = draw(st.sampled_from(ZH_BEFORE)), draw(st.sampled_from(ZH_AFTER))
    else:
        before, after = draw(st.sampled_from(EN_BEFORE)), draw(st.sampled_from(EN_AFTER))
    return before + number + after, len(before)


def assert_masked(text: str, start: int, number: str, kind: str | None) -> None:
    end = start + len(number)
    spans = find_pii(text)
    covering = [s for s in spans if s.start <= start and s.end >= end]
    assert covering, (text, spans)
    if kind is not None:
        assert covering[0].kind == kind, (text, spans)
    masked = mask_text(text, spans)
    assert len(masked) == len(text)
    assert all(c == "*" or c.isspace() for c in masked[start:end]), masked
    # Outside the spans nothing changes.
    inside = {i for s in spans for i in range(s.start, s.end)}
    assert all(masked[i] == text[i] for i in range(len(text)) if i not in inside)


@PROPERTY
@given(data=st.data(), digits=st.one_of(mobiles, landlines))
def test_property_chinese_phones(data: st.DataObject, digits: str) -> None:
    number = data.draw(rendered(digits))
    text, start = data.draw(embedded(number))
    assert_masked(text, start, number, "phone")


@PROPERTY
@given(data=st.data(), digits=international())
def test_property_international_phones(data: st.DataObject, digits: str) -> None:
    number = data.draw(rendered(digits if digits.startswith("+") else digits))
    text, start = data.draw(embedded(number))
    assert_masked(text, start, number, "phone")


@PROPERTY
@given(data=st.data(), digits=id_cards())
def test_property_id_cards(data: st.DataObject, digits: str) -> None:
    number = data.draw(rendered(digits))
    text, start = data.draw(embedded(number))
    assert_masked(text, start, number, "id_card")


@PROPERTY
@given(data=st.data(), digits=bank_cards())
def test_property_bank_cards(data: st.DataObject, digits: str) -> None:
    number = data.draw(rendered(digits))
    text, start = data.draw(embedded(number))
    assert_masked(text, start, number, "bank_card")


@PROPERTY
@given(data=st.data(), plate=plates())
def test_property_plates(data: st.DataObject, plate: str) -> None:
    text, start = data.draw(embedded(plate))
    assert_masked(text, start, plate, "plate")


@PROPERTY
@given(data=st.data(), email=emails)
def test_property_emails(data: st.DataObject, email: str) -> None:
    text, start = data.draw(embedded(email))
    assert_masked(text, start, email, "email")


CN_NUMBERS = "一二三四五六七八九"
MODELS = ["领克08", "比亚迪汉", "问界M7", "Model 3", "Model Y", "理想L9", "小米SU7", "宝马X5", "极氪001"]


@st.composite
def sales_talk(draw: st.DrawFn) -> str:
    """Prices, budgets, distances, family, seats, years, rates and model names: no PII."""
    cn = st.sampled_from(CN_NUMBERS)
    small = st.integers(1, 99999)
    parts = [
        st.builds("预算{}十万左右".format, cn),
        st.builds("{}十万到{}十万".format, cn, cn),
        st.builds("月供{}千{}".format, cn, cn),
        st.builds("一年开{}万公里".format, cn),
        st.builds("家里{}个孩子".format, st.sampled_from("两三四")),
        st.builds("{}代同堂".format, st.sampled_from("两三四")),
        st.builds("要{}座的".format, st.sampled_from("五六七")),
        st.builds("{}年的车".format, st.integers(1990, 2030)),
        st.builds("落地{}万".format, st.integers(5, 200)),
        st.builds("利率{}.{:02d}%".format, st.integers(0, 9), st.integers(0, 99)),
        st.builds("看看{}".format, st.sampled_from(MODELS)),
        st.builds("about {:,} dollars".format, st.integers(1000, 999999)),
        st.builds("{} miles".format, small),
        st.builds("二零{}{}年".format, cn, cn),
        st.builds("{}月{}号来".format, st.integers(1, 12), st.integers(1, 31)),
        st.builds("{}-{:02d}-{:02d}".format, st.integers(2000, 2030), st.integers(1, 12), st.integers(1, 28)),
        st.builds("{}点{}".format, cn, cn),
        st.builds(
            "{}年{}月{}日 {}:{:02d}".format,
            st.integers(2000, 2030),
            st.integers(1, 12),
            st.integers(1, 31),
            st.integers(0, 23),
            st.integers(0, 59),
        ),
        st.builds("总价{}元".format, st.integers(10000, 9999999)),
        st.builds("验证码{}".format, st.text(alphabet="零幺二三四五六七八九", min_size=4, max_size=6)),
        st.builds("{}号展厅".format, st.text(alphabet="0123456789", min_size=1, max_size=6)),
        st.builds("第{}名".format, st.integers(1, 999)),
    ]
    chosen = draw(st.lists(st.one_of(parts), min_size=1, max_size=5))
    return draw(st.sampled_from(["，", "。", ", ", "；"])).join(chosen)


@PROPERTY
@given(text=sales_talk())
def test_property_sales_talk_unchanged(text: str) -> None:
    assert find_pii(text) == [], text
    assert redacted(text) == text


# ---------------------------------------------------------------------------------------
# Turns and JSON


def make_turn(words: list[tuple[str, float, float]], text: str | None = None) -> dict[str, Any]:
    return {
        "role": "customer",
        "speaker": "SPEAKER_01",
        "channel": 1,
        "start": words[0][1] if words else 0.0,
        "end": words[-1][2] if words else 1.0,
        "text": "".join(w for w, _, _ in words) if text is None else text,
        "words": [{"word": w, "start": s, "end": e, "probability": 0.9} for w, s, e in words],
    }


ZH_WORDS = [
    ("我的", 0.0, 0.3),
    ("电话", 0.3, 0.6),
    ("是", 0.6, 0.7),
    ("幺三八", 0.8, 1.4),
    ("零零", 1.5, 1.8),
    ("幺三", 1.9, 2.2),
    ("八零零零", 2.3, 3.0),
    ("，", 3.0, 3.0),
    ("谢谢", 3.1, 3.5),
]
EN_WORDS = [
    (" You", 0.0, 0.2),
    (" can", 0.2, 0.4),
    (" reach", 0.4, 0.7),
    (" me", 0.7, 0.8),
    (" on", 0.8, 0.9),
    (" +44", 1.0, 1.5),
    (" 20", 1.6, 1.9),
    (" 7946", 2.0, 2.6),
    (" 0958.", 2.7, 3.3),
    (" Thanks.", 3.5, 3.9),
]


def test_redact_turns_masks_text_and_words_together() -> None:
    turns = [make_turn(ZH_WORDS), make_turn(EN_WORDS), make_turn([("好的", 4.0, 4.3)])]
    out, spans = redact_turns(turns)
    assert out[0]["text"] == "我的电话是***********，谢谢"
    assert [w["word"] for w in out[0]["words"]] == [
        "我的",
        "电话",
        "是",
        "***",
        "**",
        "**",
        "****",
        "，",
        "谢谢",
    ]
    assert out[1]["text"] == " You can reach me on *** ** **** ****. Thanks."
    assert [w["word"] for w in out[1]["words"]][5:9] == [" ***", " **", " ****", " ****."]
    for turn in out:
        assert "".join(w["word"] for w in turn["words"]) == turn["text"]
    assert out[2] == turns[2]
    assert spans == [RedactedSpan(0, "phone", 0.8, 3.0), RedactedSpan(1, "phone", 1.0, 3.3)]
    # The input is left alone; the other fields come through.
    assert turns[0]["text"] == "我的电话是幺三八零零幺三八零零零，谢谢"
    assert out[0]["words"][3]["start"] == 0.8 and out[0]["role"] == "customer"


def test_redact_turns_aligns_words_that_differ_in_whitespace() -> None:
    turn = make_turn(EN_WORDS, text="You can reach me on +44 20 7946 0958. Thanks.")
    out, spans = redact_turns([turn])
    assert out[0]["text"] == "You can reach me on *** ** **** ****. Thanks."
    assert [w["word"] for w in out[0]["words"]][5:9] == [" ***", " **", " ****", " ****."]
    assert spans == [RedactedSpan(0, "phone", 1.0, 3.3)]


def test_redact_turns_falls_back_when_words_do_not_join() -> None:
    words = [("my", 0.0, 0.2), (" number", 0.2, 0.5), (" 13800138000", 0.6, 1.5), (" 谢谢", 1.6, 2.0)]
    turn = make_turn(words, text="my phone number is 13800138000 ok")
    turn["start"], turn["end"] = 0.0, 2.0
    out, spans = redact_turns([turn])
    assert out[0]["text"] == "my phone number is *********** ok"
    assert out[0]["words"][2]["word"] == " ***********"
    assert spans == [RedactedSpan(0, "phone", 0.0, 2.0)]


def test_redact_turns_without_words_has_no_times() -> None:
    turn = make_turn([], text="车牌粤B·D12345")
    turn["words"] = []
    out, spans = redact_turns([turn])
    assert out[0]["text"] == "车牌*********"
    assert spans == [RedactedSpan(0, "plate", None, None)]


def test_redact_turns_respects_kinds() -> None:
    turn = make_turn([("车牌粤B12345", 0.0, 1.0), ("，电话13800138000", 1.0, 2.0)])
    out, spans = redact_turns([turn], kinds=["plate"])
    assert out[0]["text"] == "车牌*******，电话13800138000"
    assert [s.kind for s in spans] == ["plate"]


def test_redact_json_masks_every_string() -> None:
    payload = {
        "call_id": 42,
        "tags": ["留资", "phone 13800138000"],
        "customer": {"phone": "+86 138 0013 8000", "budget": 200000, "note": None, "ok": True},
        "turns": ({"text": "邮箱 a.b@example.com"},),
    }
    out = redact_json(payload)
    assert out == {
        "call_id": 42,
        "tags": ["留资", "phone ***********"],
        "customer": {"phone": "*** *** **** ****", "budget": 200000, "note": None, "ok": True},
        "turns": [{"text": "邮箱 ***************"}],
    }
    assert payload["customer"]["phone"] == "+86 138 0013 8000"  # type: ignore[index]
    assert redact_json("京A12345") == "*******"
    assert redact_json(3.5) == 3.5


# ---------------------------------------------------------------------------------------
# Audio


def test_mute_zeroes_padded_spans_and_nothing_else() -> None:
    rate = 8000
    samples = tone(3.0, rate, channels=2)
    out = mute(samples, rate, [(1.0, 1.5), (2.9, 3.5)], pad=0.1)
    assert out.dtype == samples.dtype and out.shape == samples.shape
    silent = np.zeros(samples.shape[1], dtype=bool)
    silent[int(0.9 * rate) : int(1.6 * rate)] = True
    silent[int(2.8 * rate) :] = True
    assert not out[:, silent].any()
    np.testing.assert_array_equal(out[:, ~silent], samples[:, ~silent])
    assert samples[:, silent].any()  # the input is not changed
    mono = mute(samples[0], rate, [(0.0, 0.5)], pad=0.0)
    assert not mono[: int(0.5 * rate)].any() and np.array_equal(mono[int(0.5 * rate) :], samples[0, 4000:])


def test_mute_refuses_bad_arguments() -> None:
    samples = tone(1.0, 8000)
    with pytest.raises(ValueError):
        mute(samples, 8000, [(0.5, 0.2)])
    with pytest.raises(ValueError):
        mute(samples, 0, [])
    with pytest.raises(ValueError):
        mute(samples, 8000, [], pad=-1)


def decode(path: Path) -> tuple[np.ndarray, int, str]:
    """(channels, n) float32 at the file's own rate, its rate and its codec."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate, codec = stream.codec_context.sample_rate, stream.codec_context.name
        resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout.name, rate=rate)
        frames = [out.to_ndarray() for f in container.decode(stream) for out in resampler.resample(f)]
    return np.concatenate(frames, axis=1), rate, codec


@pytest.mark.parametrize(
    ("name", "codec", "container"), [("call.wav", "pcm_s16le", "wav"), ("call.mp3", "libmp3lame", "mp3")]
)
def test_mute_file_round_trip(tmp_path: Path, name: str, codec: str, container: str) -> None:
    rate = 44100
    source = write_audio(tmp_path / name, tone(3.0, rate, channels=2), rate, codec, container)
    destination = tmp_path / "out" / "muted.flac"
    mute_file(source, destination, [(1.0, 1.5)], pad=0.15)
    samples, out_rate, out_codec = decode(destination)
    assert out_codec == "flac" and out_rate == rate and samples.shape[0] == 2
    assert abs(samples.shape[1] / rate - 3.0) < 0.1
    assert not samples[:, int(0.86 * rate) : int(1.64 * rate)].any()
    rms = np.sqrt(np.mean(samples[:, int(0.2 * rate) : int(0.8 * rate)] ** 2, axis=1))
    assert np.all(rms > 0.15), rms
    rms = np.sqrt(np.mean(samples[:, int(1.8 * rate) : int(2.8 * rate)] ** 2, axis=1))
    assert np.all(rms > 0.15), rms
    assert [p.name for p in destination.parent.iterdir()] == ["muted.flac"]  # no temporary left


def test_mute_file_in_place_and_bad_input(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "call.flac", tone(1.0, 16000), 16000, "flac", "flac")
    mute_file(path, path, [(0.0, 0.5)], pad=0.0)
    samples, _, _ = decode(path)
    assert not samples[:, :8000].any() and samples[:, 8100:].any()
    text = tmp_path / "notes.txt"
    text.write_text("not audio at all, just some words")
    with pytest.raises(NotAudioError):
        mute_file(text, tmp_path / "x.flac", [])
    with pytest.raises(FileNotFoundError):
        mute_file(tmp_path / "missing.wav", tmp_path / "x.flac", [])
