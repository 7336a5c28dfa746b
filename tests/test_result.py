from __future__ import annotations

import json
from pathlib import Path

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


_TYPED = {"type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const"}


def _untyped(schema: object, path: str = "") -> list[str]:
    """Where the schema leaves a shape open: ``additionalProperties: true``, or a field with no
    type, reference, enum or union."""
    found: list[str] = []
    if isinstance(schema, dict):
        if schema.get("additionalProperties") is True:
            found.append(path)
        for name, field in (schema.get("properties") or {}).items():
            if isinstance(field, dict) and not field.keys() & _TYPED:
                found.append(f"{path}/{name}")
        for key, value in schema.items():
            found += _untyped(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found += _untyped(value, f"{path}[{i}]")
    return found


def test_the_published_schema_types_every_field() -> None:
    assert _untyped(json_schema()) == []


def test_the_service_fake_validates_against_the_published_schema() -> None:
    import jsonschema

    from tests.service_helpers import FakeAnalyzer, analysis_result, scorecard

    published = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(published)
    fake = FakeAnalyzer()(Path("call.flac"), AnalysisOptions(scenario="inbound_call"), None)
    filtered = analysis_result(scorecard({"greeting": True, "closing_commitment": None}, ("rude",)), "B")
    for result in (fake, filtered, sample()):
        data = result.to_dict()
        assert list(validator.iter_errors(data)) == []
        assert AnalysisResult.from_dict(data) == result  # and back, unchanged
    data = fake.to_dict()
    broken = {**data, "understanding": {**data["understanding"], "intent": {"grade": "Z"}}}
    assert list(validator.iter_errors(broken)) != []  # the schema does reject a wrong shape
