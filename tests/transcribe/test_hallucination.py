from __future__ import annotations

from callintel.transcribe.hallucination import collapse_repeats, remove_credits, remove_prompt_echo
from callintel.transcript import Word


def words(*tokens: str) -> list[Word]:
    return [Word(t, float(i), float(i) + 0.5, 0.9) for i, t in enumerate(tokens)]


def text(ws) -> str:
    return "".join(w.word for w in ws)


def test_collapses_a_looping_phrase_keeping_one_copy() -> None:
    result = collapse_repeats(
        words("中间", "协会", "分析", "。", "中间", "协会", "分析", "中间", "协会", "分析")
    )
    assert text(result.words) == "中间协会分析。"
    assert result.reasons == ("repeated phrase",)


def test_keeps_natural_short_repeats() -> None:
    ws = words("对", "对", "对", "，", "好", "的")
    assert collapse_repeats(ws).words == tuple(ws)


def test_cuts_long_runs_of_a_short_unit() -> None:
    assert text(collapse_repeats(words(*"语" * 12)).words) == "语"


def test_removes_subtitle_credits_and_outros() -> None:
    for tokens in (
        ("谢谢", "。", "字幕", "由", "Amara", "提供"),
        ("请", "不吝", "点赞", "订阅"),
        (" Okay.", " Thanks", " for", " watching!"),
    ):
        result = remove_credits(words(*tokens))
        assert "字幕" not in text(result.words) and "点赞" not in text(result.words)
        assert "watching" not in text(result.words)
        assert result.removed


def test_keeps_ordinary_speech() -> None:
    ws = words("您好", "，", "欢迎", "光临", "，", "我", "是", "销售", "顾问", "小王")
    assert remove_credits(ws).words == tuple(ws)
    assert collapse_repeats(ws).words == tuple(ws)


def test_removes_hotword_echo_but_not_a_single_brand() -> None:
    prompt = "领克 比亚迪 理想 蔚来"
    echoed = remove_prompt_echo(words("想", "看看", "领克", "比亚迪", "理想", "蔚来"), prompt)
    assert text(echoed.words) == "想看看"
    spoken = words("我", "在", "比较", "领克", "和", "比亚迪")
    assert remove_prompt_echo(spoken, prompt).words == tuple(spoken)


def test_keeps_a_phrase_said_twice_and_cuts_a_loop() -> None:
    # People repeat themselves once ("okay, okay", "thank you, thank you"); Whisper loops on.
    for tokens in ((" Okay,", " okay."), (" Thank", " you,", " thank", " you."), ("没问题", "没问题")):
        assert collapse_repeats(words(*tokens)).words == tuple(words(*tokens))
    looped = collapse_repeats(words(" Thank", " you.", " Thank", " you.", " Thank", " you."))
    assert text(looped.words) == " Thank you." and looped.reasons == ("repeated phrase",)
