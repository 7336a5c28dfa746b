"""What every command shares: the two consoles and the one way a command fails."""

from __future__ import annotations

import ctypes
import os
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


def one_malloc_arena() -> None:
    """Let all threads of this process allocate from glibc's main arena (``MALLOC_ARENA_MAX=1``,
    unless the environment sets it), before any thread starts.

    `analyze` loads models in a background thread while Whisper decodes: in an arena of its own,
    that thread cannot reuse what Whisper's loading freed, and the process peaks 65-90 MiB higher
    (measured on jfk.flac and the demo call, no slower). Without glibc there is nothing to do.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_arena_max = -8  # glibc's malloc.h
    mallopt(m_arena_max, 1)


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: long-running commands finish their current item first."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
