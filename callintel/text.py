"""The one text normaliser every stage uses: full-width to ASCII, Traditional to Simplified, flat.

ASR output mixes full-width and half-width forms, Traditional and Simplified characters, and puts
spaces between Chinese characters at random (零克 08, 十五 到 二十万). Cue lists, the gazetteer,
the role cues and the classifiers all compare text in the forms made here, so that one spelling
of a phrase matches every other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

CJK = "\u3400-\u9fff"
"""The CJK Unified Ideographs (with Extension A), as a regex character-class range."""

_CJK_GAP = re.compile(rf"(?<=[{CJK}])\s+|\s+(?=[{CJK}])")
_SPACES = re.compile(r"\s+")
_NOT_WORDS = ("P", "Z", "S", "C")  # Unicode categories: punctuation, separators, symbols, control


@lru_cache(maxsize=1)
def _t2s() -> Callable[[str], str]:
    try:
        import opencc
    except ImportError as e:  # a core dependency; only a broken install gets here
        raise ImportError("Traditional-to-Simplified conversion needs opencc: pip install opencc") from e
    return opencc.OpenCC("t2s").convert


def to_simplified(text: str) -> str:
    """Traditional Chinese characters to Simplified (OpenCC t2s); other text unchanged."""
    return _t2s()(text)


def simplified(text: str) -> str:
    """Full-width forms as ASCII (NFKC) and Simplified characters; case kept."""
    return to_simplified(unicodedata.normalize("NFKC", text))


def canonical(text: str) -> str:
    """Full-width forms as ASCII (NFKC), Simplified characters, lower case."""
    return simplified(text).lower()


def flatten(text: str) -> str:
    """:func:`canonical`, with one space for any run of spaces and none beside a Chinese character."""
    return _CJK_GAP.sub("", _SPACES.sub(" ", canonical(text)).strip())


def comparison_key(text: str) -> str:
    """:func:`canonical` without punctuation, symbols, spaces or control characters: the form in
    which two spellings of the same words compare equal (无 法 。 and 无法)."""
    return "".join(ch for ch in canonical(text) if not unicodedata.category(ch).startswith(_NOT_WORDS))
