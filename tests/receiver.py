"""A real webhook receiver on loopback for the delivery tests and the delivery benchmark.

It verifies every signature, keeps what it got, and can be told to fail its next requests,
to stop (the port refuses connections) and to start again on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from callintel.service.delivery import SIGNATURE_HEADER, verify


@dataclass
class Received:
    event_id: str
    seq: int
    type: str
    data: dict[str, Any]
    attempt: int
    signature_ok: bool


@dataclass
class Receiver:
    secret: str
    port: int = 0
    fail_next: int = 0
    fail_status: int = 503
    received: list[Received] = field(default_factory=list)
    answered_errors: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connections: set[socket.socket] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/callintel"

    def start(self) -> Receiver:
        if self.port == 0:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        receiver.answered_errors += 1
                        status = receiver.fail_status
                    else:
                        event = json.loads(body)
                        receiver.received.append(
                            Received(
                                event_id=self.headers["Callintel-Event-Id"],
                                seq=int(self.headers["Callintel-Event-Seq"]),
                                type=event["type"],
                                data=event["data"],
                                attempt=int(self.headers["Callintel-Delivery-Attempt"]),
                                signature_ok=verify(receiver.secret, self.headers[SIGNATURE_HEADER], body)
                                and event["id"] == self.headers["Callintel-Event-Id"],
                            )
                        )
                        status = 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go away: the port refuses connections until :meth:`start`, and kept-alive
        connections are cut."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for connection in list(self._connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._connections.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def unique(self) -> dict[str, Received]:
        """What the receiver keeps when it drops duplicates by event id (the first copy)."""
        out: dict[str, Received] = {}
        for item in list(self.received):
            out.setdefault(item.event_id, item)
        return out
