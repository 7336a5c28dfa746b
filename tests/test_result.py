from __future__ import annotations

import json

from callintel.options import AnalysisOptions
from callintel.result import SCHEMA_PATH, SCHEMA_VERSION, AnalysisResult, json_schema
from callintel.transcript import ModelInfo, RoleDecision, SourceInfo, SpeakerRole, Turn, Word


def sample() -> AnalysisResult:
    words = (Word("您好", 0.0, 0.4, 0.98), Word("，欢迎光临", 0.4, 1.2, 0.95))
    return AnalysisResult(
        language="zh",
        language_probability=0.99,
        duration=3.0,
        channel_layout="stereo",
        turns=(Turn("sales", "S1", 0, 0.0, 1.2, "您好，欢迎光临", words),),
        roles=RoleDecision((SpeakerRole("S1", "sales", 0.97, 0, ("+欢迎光临",)),), 0.97, "channel+text"),
        source=SourceInfo("wav", "pcm_s16le", 8000, 2, 3.0, "ab" * 32),
        models=(ModelInfo("whisper-base", "asr", "faster-whisper", "v"),),
        options=AnalysisOptions(),
    )


def test_json_round_trip_and_contract() -> None:
    result = sample()
    data = json.loads(result.to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["turns"][0] == {
        "role": "sales",
        "speaker": "S1",
        "channel": 0,
        "start": 0.0,
        "end": 1.2,
        "text": "您好，欢迎光临",
        "words": [
            {"word": "您好", "start": 0.0, "end": 0.4, "probability": 0.98},
            {"word": "，欢迎光临", "start": 0.4, "end": 1.2, "probability": 0.95},
        ],
    }
    assert data["roles"]["confidence"] == 0.97
    assert AnalysisResult.from_json(result.to_json()) == result


def test_committed_schema_matches_the_code() -> None:
    committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert committed == json_schema(), "regenerate with: python -m callintel.schema"


def test_schema_requires_the_contract_fields() -> None:
    schema = json_schema()
    assert {"language", "duration", "turns", "roles", "schema_version"} <= set(schema["required"]) | {
        "schema_version"
    }
    turn = schema["$defs"]["Turn"]
    assert turn["properties"]["role"]["enum"] == ["sales", "customer"]
