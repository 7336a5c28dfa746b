"""Redaction in the service: a dealer that asks for it gets personal data masked in the stored
transcript, the analysis, the tags and the events, and the audio muted over the same spans;
the scorecard still counts the contact capture. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from api import create_app
from callintel.audio.decode import load_audio
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.service.worker import Worker
from callintel.store.blobs import BlobStore
from callintel.store.db import Database
from callintel.transcript import Turn, Word
from callintel.understand.types import (
    AttributeEvidence,
    AttributeValue,
    CheckpointResult,
    Evidence,
    IntentResult,
    ScorecardResult,
    Tag,
)
from tests.service_helpers import (
    auth,
    fake_result,
    iter_rows,
    make_key,
    service_settings,
)

PHONE_WORDS = ["我", "的", "电话", "是", "幺三八", "零零幺三", "八零零零"]  # 138 0013 8000, read out
PHONE_TIMES = [(2.0, 2.2), (2.2, 2.3), (2.3, 2.6), (2.6, 2.8), (2.8, 3.4), (3.4, 3.9), (3.9, 4.4)]


def analysis(options: AnalysisOptions) -> AnalysisResult:
    words = tuple(Word(w, s, e, 0.9) for w, (s, e) in zip(PHONE_WORDS, PHONE_TIMES, strict=True))
    turns = (
        Turn("sales", "S1", None, 0.0, 1.8, "方便留个电话吗", (Word("方便留个电话吗", 0.0, 1.8, 0.9),)),
        Turn("customer", "S2", None, 2.0, 4.4, "".join(PHONE_WORDS), words),
    )
    asked = Evidence(0, 0.0, 1.8, "方便留个电话吗", 0.9)
    return fake_result(
        options,
        turns=turns,
        duration=6.0,
        scorecard=ScorecardResult(
            scenario=options.scenario or "showroom",
            scorecard_version="1",
            score=90.0,
            checkpoints={"contact_capture": CheckpointResult(True, 0.9, False, 1.0, True, (asked,))},
            violations=(),
            missed_required=(),
        ),
        attributes={
            "household": AttributeValue(
                "电话13800138000", (AttributeEvidence(1, 2.0, 4.4, "电话是幺三八零零幺三八零零零", 0.9),)
            )
        },
        intent=IntentResult("B", {"H": 0.1, "A": 0.2, "B": 0.5, "C": 0.1, "N": 0.1}),
        tags=(Tag("intent_grade", "B", 0.5), Tag("model_interest", "车主 13800138000", 0.9)),
    )


def _digits_leak(value: Any) -> bool:
    text = str(value)
    return any(s in text for s in ("13800138000", "幺三八", "零零幺三", "八零零零", "1380013"))


def test_a_dealer_with_redaction_gets_masked_results_and_muted_audio(db: Database, tmp_path: Path) -> None:
    settings = service_settings(tmp_path, db.url)
    client = TestClient(create_app(settings, in_process_workers=0, db=db))
    blobs = BlobStore(settings.audio_dir)

    def analyze(path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        return analysis(options)

    worker = Worker(db, blobs, analyze, name="w")
    admin = make_key(db, "admin", "*")
    crm = make_key(db, "crm", "d1", "d2")
    wanted = {"redaction": {"enabled": True, "kinds": ["phone", "id_card"], "mute_audio": True}}
    answer = client.put("/v1/dealers/d1/settings", json=wanted, headers=auth(admin))
    assert answer.status_code == 200, answer.text
    bad = {"redaction": {"enabled": True, "kinds": ["fingerprint"]}}
    assert client.put("/v1/dealers/d1/settings", json=bad, headers=auth(admin)).status_code == 422

    rate = 16000
    t = np.arange(6 * rate) / rate
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((9830 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes())
    ids = {}
    for dealer in ("d1", "d2"):
        with path.open("rb") as f:
            answer = client.post(
                "/v1/calls",
                files={"audio": ("call.wav", f, "audio/wav")},
                data={"dealer": dealer, "customer_id": "c1", "external_id": dealer},
                headers=auth(crm),
            )
        assert answer.status_code == 202, answer.text
        ids[dealer] = answer.json()["id"]
    assert worker.run_once() and worker.run_once()

    masked = client.get(f"/v1/calls/{ids['d1']}", headers=auth(crm)).json()
    plain = client.get(f"/v1/calls/{ids['d2']}", headers=auth(crm)).json()
    assert "幺三八" in plain["transcript"][1]["text"], "a dealer without redaction keeps the words"
    turn = masked["transcript"][1]
    assert turn["text"].startswith("我的电话是") and not _digits_leak(turn)
    assert len(turn["text"]) == len(plain["transcript"][1]["text"]), "masking keeps lengths"
    assert "".join(w["word"] for w in turn["words"]) == turn["text"]
    assert masked["scorecard"]["checkpoints"]["contact_capture"]["passed"] is True

    for table in ("transcripts", "analyses", "tags", "events"):
        rows = [r for r in iter_rows(db, table) if ids["d1"] in str(r.get("call_id"))]
        assert rows, table
        assert not any(_digits_leak(dict(r)) for r in rows), f"personal data left in {table}"
    others = [r for r in iter_rows(db, "analyses") if r["call_id"] == ids["d2"]]
    assert _digits_leak(dict(others[0]))

    (stored,) = [r for r in iter_rows(db, "analyses") if r["call_id"] == ids["d1"]]
    result = stored["result"] if isinstance(stored["result"], dict) else json.loads(stored["result"])
    spans = result["redaction"]["spans"]
    assert [(s["turn"], s["kind"]) for s in spans] == [(1, "phone")]
    assert (spans[0]["start"], spans[0]["end"]) == (2.8, 4.4)

    # The d1 call's audio is now a muted FLAC; the d2 call keeps the original.
    audio = client.get(f"/v1/calls/{ids['d1']}/audio", headers=auth(crm))
    original = client.get(f"/v1/calls/{ids['d2']}/audio", headers=auth(crm))
    assert audio.status_code == original.status_code == 200
    assert audio.content[:4] == b"fLaC" and original.content[:4] == b"RIFF"
    muted_path = tmp_path / "muted.flac"
    muted_path.write_bytes(audio.content)
    samples = load_audio(muted_path).mono()  # 16 kHz, like the original
    rms = lambda a, b: float(np.sqrt(np.mean(samples[int(a * rate) : int(b * rate)] ** 2)))  # noqa: E731
    assert rms(2.8, 4.4) < 1e-3, "muted over the phone number"
    assert rms(0.5, 2.5) > 0.1 and rms(4.7, 5.9) > 0.1, "untouched elsewhere"
    assert len(list(p for p in settings.audio_dir.rglob("*") if p.is_file())) == 2
