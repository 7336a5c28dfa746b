"""What the console needs from the API (issue 17), on SQLite and PostgreSQL: signed audio links
the player streams with range requests, the key's own profile (its dealers, for the upload's
dealer choice), and errors whose problem type says what went wrong (a wrong key, a revoked key,
an empty file) for the console to word in its own language."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.audio_links import AudioLinks
from callintel.store.db import Database
from callintel.store.keys import create_key, revoke_key
from tests.service_helpers import auth, make_key, service_settings

SECRET = "test-audio-secret"


class Console:
    def __init__(self, db: Database, tmp_path: Path) -> None:
        self.db = db
        self.settings = service_settings(tmp_path, db.url, audio_url_secret=SECRET, audio_url_seconds=60)
        self.client = TestClient(create_app(self.settings, in_process_workers=0, db=db, sync_analysis=False))
        self.qa = make_key(db, "qa", "d1")
        self.qa_other = make_key(db, "qa", "d2")

    def upload(self, path: Path, key: str | None = None, dealer: str = "d1", **form: str) -> str:
        with path.open("rb") as f:
            answer = self.client.post(
                "/v1/calls",
                files={"audio": (path.name, f, "application/octet-stream")},
                data={"dealer": dealer, **form},
                headers=auth(key or self.qa),
            )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def link(self, call_id: str, key: str | None = None) -> tuple[int, dict[str, object]]:
        answer = self.client.post(f"/v1/calls/{call_id}/audio-link", headers=auth(key or self.qa))
        return answer.status_code, answer.json()


@pytest.fixture
def console(db: Database, tmp_path: Path) -> Console:
    return Console(db, tmp_path)


def test_an_audio_link_streams_the_recording_with_range_requests(console: Console, audio_dir: Path) -> None:
    recording = audio_dir / "jfk.flac"
    whole = recording.read_bytes()
    call_id = console.upload(recording)
    status, link = console.link(call_id)
    assert status == 200
    url = str(link["url"])
    assert url.startswith(f"/v1/audio/{call_id}?") and "expires=" in url and "signature=" in url
    # No key: the link is the permission. A range gives 206 and exactly those bytes.
    part = console.client.get(url, headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206
    assert part.content == whole[100:1124]
    assert part.headers["content-range"] == f"bytes 100-1123/{len(whole)}"
    tail = console.client.get(url, headers={"Range": f"bytes={len(whole) - 10}-"})
    assert tail.status_code == 206 and tail.content == whole[-10:]
    full = console.client.get(url)
    assert full.status_code == 200 and full.content == whole
    assert full.headers["accept-ranges"] == "bytes"


def test_an_audio_link_is_refused_when_tampered_expired_or_for_another_dealer(
    console: Console, audio_dir: Path, tmp_path: Path
) -> None:
    call_id = console.upload(audio_dir / "jfk.flac")
    other_call = console.upload(audio_dir / "jfk.flac", key=console.qa_other, dealer="d2")
    # Another dealer's key gets no link to this call (as if it did not exist), nor d1's key to d2's.
    assert console.link(call_id, key=console.qa_other)[0] == 404
    assert console.link(other_call)[0] == 404
    assert console.link("no-such-call")[0] == 404

    _, link = console.link(call_id)
    url = str(link["url"])
    query = parse_qs(urlsplit(url).query)
    signature, expires = query["signature"][0], query["expires"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = console.client.get(f"/v1/audio/{call_id}?expires={expires}&signature={flipped}")
    assert tampered.status_code == 403 and tampered.json()["type"] == "/problems/audio-link"
    # The same signature does not open another call, nor a later expiry.
    assert (
        console.client.get(f"/v1/audio/{other_call}?expires={expires}&signature={signature}").status_code
        == 403
    )
    later = int(expires) + 3600
    assert console.client.get(f"/v1/audio/{call_id}?expires={later}&signature={signature}").status_code == 403
    # A link signed with the server's secret but past its expiry.
    old_url, _ = AudioLinks(SECRET.encode(), 60).sign(call_id, now=time.time() - 3600)
    assert console.client.get(old_url).status_code == 403
    # A malformed signature is a bad request (422), never a server error.
    assert console.client.get(f"/v1/audio/{call_id}?expires={expires}&signature=zz").status_code == 422
    assert console.client.get(f"/v1/audio/{call_id}?expires=soon&signature={signature}").status_code == 422
    # An erased call's link opens nothing.
    admin = make_key(console.db, "crm", "d1")
    assert console.client.delete(f"/v1/calls/{call_id}", headers=auth(admin)).status_code == 204
    assert console.client.get(url).status_code == 404


def test_me_gives_the_key_name_role_and_dealers(console: Console) -> None:
    with console.db.session() as session:
        _, named = create_key(session, "qa", ["d1", "d3"], name="王质检")
        _, everyone = create_key(session, "admin", ["*"], name="ops")
    answer = console.client.get("/v1/me", headers=auth(named))
    assert answer.status_code == 200
    assert answer.json() == {
        "name": "王质检",
        "role": "qa",
        "all_dealers": False,
        "dealers": [{"id": "d1", "name": "d1"}, {"id": "d3", "name": "d3"}],
    }
    every = console.client.get("/v1/me", headers=auth(everyone)).json()
    assert every["all_dealers"] is True and {"d1", "d2", "d3"} <= {d["id"] for d in every["dealers"]}
    assert console.client.get("/v1/me").status_code == 401


def test_a_wrong_key_and_a_revoked_key_are_told_apart(console: Console) -> None:
    nobody = console.client.get("/v1/me")
    assert nobody.status_code == 401 and nobody.json()["type"] == "/problems/key-required"
    wrong = console.client.get("/v1/me", headers=auth(console.qa[:-2] + "xx"))
    assert wrong.status_code == 401 and wrong.json()["type"] == "/problems/key-invalid"
    garbage = console.client.get("/v1/me", headers=auth("not a key"))
    assert garbage.status_code == 401 and garbage.json()["type"] == "/problems/key-invalid"
    with console.db.session() as session:
        assert revoke_key(session, console.qa.split("_")[1]) is not None
    revoked = console.client.get("/v1/me", headers=auth(console.qa))
    assert revoked.status_code == 401 and revoked.json()["type"] == "/problems/key-revoked"
    # Knowing only the prefix of a revoked key tells nothing: without the secret it is a wrong key.
    guessed = console.client.get("/v1/me", headers=auth(console.qa[:-2] + "xx"))
    assert guessed.json()["type"] == "/problems/key-invalid"


def test_errors_name_their_problem_type(console: Console, tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with empty.open("rb") as f:
        answer = console.client.post(
            "/v1/calls",
            files={"audio": ("empty.wav", f, "audio/wav")},
            data={"dealer": "d1"},
            headers=auth(console.qa),
        )
    assert answer.status_code == 422 and answer.json()["type"] == "/problems/empty-audio"
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    with text.open("rb") as f:
        answer = console.client.post(
            "/v1/calls",
            files={"audio": ("notes.wav", f, "audio/wav")},
            data={"dealer": "d1"},
            headers=auth(console.qa),
        )
    assert answer.status_code == 415 and answer.json()["type"] == "/problems/not-audio"
    with text.open("rb") as f:
        answer = console.client.post(
            "/v1/calls",
            files={"audio": ("notes.wav", f, "audio/wav")},
            data={"dealer": "d2"},
            headers=auth(console.qa),
        )
    assert answer.status_code == 403 and answer.json()["type"] == "/problems/forbidden-dealer"
    missing = console.client.get("/v1/calls/nope", headers=auth(console.qa))
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/not-found"
    invalid = console.client.get("/v1/calls?limit=100000", headers=auth(console.qa))
    assert invalid.status_code == 422 and invalid.json()["type"] == "/problems/validation"
