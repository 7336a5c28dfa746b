"""A worker process for the tests: the real Worker and queue, with a slow fake analyser.

Usage: python tests/worker_process.py DATABASE_URL AUDIO_DIR NAME SECONDS MARKER_DIR
Each analysis sleeps SECONDS, then leaves ``MARKER_DIR/<name>-<n>`` so the test can see who
finished what. Runs until SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callintel.service.worker import Worker  # noqa: E402
from callintel.store.blobs import BlobStore  # noqa: E402
from callintel.store.db import Database  # noqa: E402
from tests.service_helpers import FakeAnalyzer  # noqa: E402


def main() -> None:
    url, audio_dir, name, seconds, markers = sys.argv[1:6]
    fake = FakeAnalyzer()
    count = 0

    def slow(path: Path, options: Any, scorecard: Any) -> Any:
        nonlocal count
        time.sleep(float(seconds))
        count += 1
        (Path(markers) / f"{name}-{count}").write_text(str(path))
        return fake(path, options, scorecard)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    db = Database(url)
    worker = Worker(
        db, BlobStore(Path(audio_dir)), slow, name=name, lease=dt.timedelta(seconds=2), poll_seconds=0.1
    )
    worker.run(stop)
    db.dispose()


if __name__ == "__main__":
    main()
