"""What every command shares: the two consoles and the one way a command fails."""

from __future__ import annotations

import signal
import threading
from typing import NoReturn

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """End the command: ``error: message`` on stderr, exit status ``code``.

    ``message`` is rich markup, as every command printed it before this helper existed.
    """
    errors.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=code)


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: long-running commands finish their current item first."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
