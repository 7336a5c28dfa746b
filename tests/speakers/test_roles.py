from __future__ import annotations

import pytest

from callintel.speakers.roles import RoleAssigner, SpeakerText


@pytest.fixture(scope="module")
def assigner(settings) -> RoleAssigner:
    return RoleAssigner.from_models_dir(settings.models_dir)


def test_mandarin_showroom_roles_from_text(assigner: RoleAssigner) -> None:
    speakers = [
        SpeakerText("S1", "我想看看领克08 多少钱 能不能便宜点", 1.0),
        SpeakerText("S2", "您好 欢迎光临 我是销售顾问小王 请问您 帮您安排试驾", 3.0),
    ]
    decision = assigner.assign(speakers)
    assert decision.role_of("S2") == "sales" and decision.role_of("S1") == "customer"
    assert decision.confidence > 0.9
    assert decision.method == "text"
    sales = next(s for s in decision.speakers if s.speaker == "S2")
    assert any("欢迎光临" in e for e in sales.evidence)


def test_english_call_roles_from_text(assigner: RoleAssigner) -> None:
    speakers = [
        SpeakerText("S1", "Thank you for calling Platinum Motors, how can I help you today?", 0.0),
        SpeakerText(
            "S2", "I'm calling because I got a car from your dealership and my car shows a light", 5.0
        ),
    ]
    decision = assigner.assign(speakers)
    assert decision.role_of("S1") == "sales"
    assert decision.confidence > 0.9


def test_channel_prior_decides_when_words_say_nothing(assigner: RoleAssigner) -> None:
    speakers = [SpeakerText("S1", "okay", 0.5, channel=0), SpeakerText("S2", "okay", 0.0, channel=1)]
    decision = assigner.assign(speakers, agent_channel=1)
    assert decision.role_of("S2") == "sales"
    assert decision.method == "channel+text"
    assert 0.8 < decision.confidence < 1.0


def test_strong_words_outweigh_a_wrong_channel_setting(assigner: RoleAssigner) -> None:
    speakers = [
        SpeakerText("S1", "my car broke, I'm calling about my car, how much will it cost", 1.0, channel=0),
        SpeakerText(
            "S2",
            "thank you for calling, how can I help you, could I get your name, "
            "let me check in the system, anything else I can help you with",
            0.0,
            channel=1,
        ),
    ]
    assert assigner.assign(speakers, agent_channel=0).role_of("S2") == "sales"


def test_override(assigner: RoleAssigner) -> None:
    speakers = [SpeakerText("S1", "欢迎光临", 0.0), SpeakerText("S2", "多少钱", 1.0)]
    decision = assigner.assign(speakers, sales_speaker="S2")
    assert decision.role_of("S2") == "sales" and decision.method == "override" and decision.confidence == 1.0
    with pytest.raises(ValueError, match="not a speaker"):
        assigner.assign(speakers, sales_speaker="S9")


def test_three_speakers_one_salesperson(assigner: RoleAssigner) -> None:
    speakers = [
        SpeakerText("S1", "我老婆想要空间大一点的 多少钱", 0.0),
        SpeakerText("S2", "欢迎光临 我是顾问小李 请问您 帮您安排试驾", 2.0),
        SpeakerText("S3", "我再考虑考虑", 4.0),
    ]
    decision = assigner.assign(speakers)
    assert [s.role for s in decision.speakers] == ["customer", "sales", "customer"]
    assert sum(s.sales_probability for s in decision.speakers) == pytest.approx(1.0, abs=1e-3)
