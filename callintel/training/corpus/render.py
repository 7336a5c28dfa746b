"""Turns are built from pieces; ASR-style noise is applied per piece and span offsets computed last.

Because every labelled piece keeps its own text through the noise, the character offsets of the
final string are exact whatever the noise did to lengths (Traditional characters, spaces between
characters, dropped punctuation, lower case).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

_PUNCT_ALWAYS = re.compile(r"[，。！？、；：!?;:…~～]")
_PUNCT_NOT_IN_NUMBER = re.compile(r"(?<!\d)[.,]|[.,](?!\d)")
_MULTISPACE = re.compile(r" {2,}")


@dataclass(frozen=True)
class Piece:
    """A bit of a turn: plain text (``key`` None) or the words an attribute value is read from."""

    text: str
    key: str | None = None
    value: Any = None


@dataclass(frozen=True)
class Noise:
    """What the simulated ASR does to one turn."""

    strip_punct: bool = False
    traditional: bool = False
    spaced: bool = False
    lowercase: bool = False


@functools.lru_cache(maxsize=1)
def _s2t() -> Any:
    try:
        import opencc
    except ImportError as e:  # pragma: no cover - opencc is a declared dependency
        raise ImportError("Traditional-character noise needs opencc: pip install opencc") from e
    return opencc.OpenCC("s2t")


def _noise_text(text: str, lang: str, noise: Noise) -> str:
    if noise.strip_punct:
        text = _PUNCT_ALWAYS.sub(" " if lang == "en" else "", text)
        text = _PUNCT_NOT_IN_NUMBER.sub(" " if lang == "en" else "", text)
        if lang == "en":
            text = _MULTISPACE.sub(" ", text)
    if lang == "zh" and noise.traditional:
        text = _s2t().convert(text)
    if lang == "en" and noise.lowercase:
        text = text.lower()
    if lang == "zh" and noise.spaced:
        chars = [c for c in text if not c.isspace()]
        text = (" " + " ".join(chars) + " ") if chars else ""
    return text


def render(pieces: list[Piece], lang: str, noise: Noise) -> tuple[str, list[dict[str, Any]]]:
    """Join the noised pieces; return the text and its attribute spans (``key/start/end/value``)."""
    out = ""
    spans: list[dict[str, Any]] = []
    for piece in pieces:
        t = _noise_text(piece.text, lang, noise)
        if piece.key is not None:
            t = t.strip()
        if not t:
            continue
        if (not out or out.endswith(" ")) and t.startswith(" "):
            t = t.lstrip(" ")
        if piece.key is not None and lang == "en" and out and out[-1].isalnum() and t[0].isalnum():
            t = " " + t
        start = len(out) + (len(t) - len(t.lstrip(" ")))
        out += t
        if piece.key is not None:
            spans.append({"key": piece.key, "start": start, "end": len(out), "value": piece.value})
    text = out.rstrip()
    return text, spans
