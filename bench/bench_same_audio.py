"""The same audio twice through a real worker (issue 17): the bundled demo call uploaded twice to
one dealer and analysed by a worker with the real pipeline, as a `service_call`; prints each
analysis' `event=analysis.end` line and how long each took (the second reuses the first's
transcript: no ASR). A throw-away SQLite database in a temporary directory.

    python bench/bench_same_audio.py [--file demo/auto_repairs_call.flac]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api import create_app  # noqa: E402
from callintel.pipeline import Pipeline  # noqa: E402
from callintel.service.worker import Worker, pipeline_analyzer  # noqa: E402
from callintel.settings import Settings  # noqa: E402
from callintel.store.blobs import BlobStore  # noqa: E402
from callintel.store.db import Database, upgrade  # noqa: E402
from callintel.store.keys import create_key  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "demo" / "auto_repairs_call.flac")
    parser.add_argument("--scenario", default="service_call")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("callintel.service.worker").setLevel(logging.INFO)

    with tempfile.TemporaryDirectory(prefix="callintel-same-audio-") as tmp:
        env = Settings.from_env()
        url = f"sqlite:///{Path(tmp) / 'callintel.db'}"
        upgrade(url)
        settings = Settings(
            models_dir=env.models_dir, cache_dir=env.cache_dir, data_dir=Path(tmp), database_url=url
        )
        db = Database(url)
        client = TestClient(create_app(settings, in_process_workers=0, sync_analysis=False, db=db))
        with db.session() as session:
            _, key = create_key(session, "crm", ["d1"])
        clock = time.perf_counter()
        analyzer = pipeline_analyzer(Pipeline.from_settings(settings, compute_type="int8"))
        print(f"pipeline loaded in {time.perf_counter() - clock:.1f} s")
        worker = Worker(
            db, BlobStore(settings.audio_dir), analyzer, name="bench", models_dir=settings.models_dir
        )
        for external_id in ("first", "second"):
            with args.file.open("rb") as f:
                answer = client.post(
                    "/v1/calls",
                    files={"audio": (args.file.name, f, "audio/flac")},
                    data={"dealer": "d1", "scenario": args.scenario, "external_id": external_id},
                    headers={"Authorization": f"Bearer {key}"},
                )
            assert answer.status_code == 202, answer.text
            clock = time.perf_counter()
            assert worker.run_once()
            call = client.get(
                f"/v1/calls/{answer.json()['id']}", headers={"Authorization": f"Bearer {key}"}
            ).json()
            print(
                f"{external_id}: {time.perf_counter() - clock:.2f} s, status {call['status']}, "
                f"reused_transcript_of {call['reused_transcript_of']}, "
                f"score {call['score']}, grade {call['grade']}"
            )
        checkpoints = (call["scorecard"] or {}).get("checkpoints", {})
        print(
            "checkpoints:",
            ", ".join(f"{k} {'passed' if c['passed'] else 'missed'}" for k, c in checkpoints.items()),
        )
        print("tags:", ", ".join(f"{t['key']}:{t['value']}" for t in call["tags"]))
        db.dispose()


if __name__ == "__main__":
    main()
