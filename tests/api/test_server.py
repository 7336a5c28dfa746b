"""The service as a user runs it: `callintel keys create`, then `callintel serve` in its own
process with the real pipeline, a real recording uploaded over HTTP, analysed by the
in-process worker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.receiver import Receiver
from tests.service_helpers import backends, fresh_database_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends())
def test_upload_to_result_through_a_real_server(
    backend: str, tmp_path: Path, audio_dir: Path, understanding_dir: Path
) -> None:
    url = fresh_database_url(backend, tmp_path)
    env = os.environ | {"CALLINTEL_DATA_DIR": str(tmp_path / "data"), "CALLINTEL_DATABASE_URL": url}
    cli = shutil.which("callintel", path=str(Path(sys.executable).parent)) or "callintel"
    created = subprocess.run(
        [cli, "keys", "create", "--role", "crm", "--dealer", "d1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    receiver = Receiver(secret="whsec_server_test_0123456789").start()
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.5)
            subscribed = client.post(
                "/v1/webhooks",
                json={"dealer": "d1", "url": receiver.url, "secret": receiver.secret},
                headers=headers,
            )
            assert subscribed.status_code == 201, subscribed.text
            with (audio_dir / "jfk.flac").open("rb") as f:
                response = client.post(
                    "/v1/calls",
                    files={"audio": ("jfk.flac", f, "audio/flac")},
                    data={"dealer": "d1", "scenario": "inbound_call", "customer_id": "c-42"},
                    headers=headers,
                )
            assert response.status_code == 202, response.text
            call_id = response.json()["id"]
            deadline = time.monotonic() + 300
            while (detail := client.get(f"/v1/calls/{call_id}", headers=headers).json())["status"] not in (
                "done",
                "failed",
            ):
                assert time.monotonic() < deadline, detail
                time.sleep(1)
            assert detail["status"] == "done", detail
            text = " ".join(t["text"] for t in detail["transcript"]).lower()
            assert "ask not what your country can do for you" in text
            assert detail["intent"]["grade"] in {"H", "A", "B", "C", "N"}
            assert 0 <= detail["scorecard"]["score"] <= 100
            assert any(t["key"] == "intent_grade" for t in detail["tags"])
            journey = client.get("/v1/customers/c-42/journey", headers=headers).json()
            assert [c["id"] for c in journey["calls"]] == [call_id]
            assert (
                detail["metrics"]["customer"]["talk_time"] > 0 or detail["metrics"]["sales"]["talk_time"] > 0
            )
            # The server's own dispatcher sends the events to the CRM, signed.
            deadline = time.monotonic() + 60
            while len(receiver.unique()) < 2:
                assert time.monotonic() < deadline, receiver.received
                time.sleep(0.5)
            got = {r.type: r for r in receiver.unique().values()}
            assert set(got) == {"call.analyzed", "customer.tags_changed"}
            assert got["call.analyzed"].data["call_id"] == call_id
            assert got["call.analyzed"].data["customer_id"] == "c-42"
            assert all(r.signature_ok for r in receiver.received)
            pulled = client.get("/v1/events", headers=headers).json()["items"]
            assert {e["id"] for e in pulled} == set(receiver.unique())
    finally:
        server.terminate()
        server.wait(30)
        receiver.stop()
