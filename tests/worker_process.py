"""A worker process for the tests: the real Worker and queue, with a slow fake analyser.

Usage: python tests/worker_process.py DATABASE_URL AUDIO_DIR NAME SECONDS MARKER_DIR [BATCH]
Each analysis sleeps SECONDS, then leaves ``MARKER_DIR/<name>-<n>`` so the test can see who
finished what. With BATCH above 1 the worker claims up to that many jobs at once and analyses
them together (one sleep of SECONDS per batch, then a marker per call). Runs until SIGTERM.
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
    batch = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    fake = FakeAnalyzer()
    count = 0

    def mark(path: Path) -> None:
        nonlocal count
        count += 1
        (Path(markers) / f"{name}-{count}").write_text(str(path))

    class Slow:
        def __call__(self, path: Path, options: Any, scorecard: Any) -> Any:
            time.sleep(float(seconds))
            mark(path)
            return fake(path, options, scorecard)

        def analyze_many(self, calls: Any) -> Any:
            time.sleep(float(seconds))
            for path, _, _ in calls:
                mark(path)
            return fake.analyze_many(calls)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    db = Database(url)
    worker = Worker(
        db,
        BlobStore(Path(audio_dir)),
        Slow(),
        name=name,
        lease=dt.timedelta(seconds=2),
        poll_seconds=0.1,
        batch=batch,
    )
    worker.run(stop)
    db.dispose()


if __name__ == "__main__":
    main()
