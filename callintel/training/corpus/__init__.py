"""The project's own labelled corpus: generated sales dialogues in Mandarin and English.

``generate`` voices planned dialogues from the phrase banks under ``data/<split>/<lang>.yaml``;
``write_jsonl``/``read_jsonl`` store them in the ``docs/corpus.md`` format and
``validate_dialogue`` checks user-supplied records.

Value conventions the generator follows (the normaliser should read spans the same way):
``budget_cny``: one amount with 左右/上下/差不多/about/around (or alone) -> ±10%; a range ``A到B万`` /
``A to Bk`` -> [A, B]; 以内/不超过/under/up to -> {min: 0, max}. ``purchase_timeline_days``: fixed phrases
(今天 0, 这周 7, 下周 14, 半个月 15, 下个月 30, 两三个月 90, 半年 180 ...) or dates counted from the call
date (年底 -> Dec 31, 月底 -> end of month, 明年初 -> Jan 31 next year).
"""

from callintel.domain import ATTRIBUTES, CHECKPOINTS, GRADES, SCENARIOS, VIOLATIONS

from .generator import generate
from .jsonl import check_spans, read_jsonl, validate_dialogue, write_jsonl

__all__ = [
    "ATTRIBUTES",
    "CHECKPOINTS",
    "GRADES",
    "SCENARIOS",
    "VIOLATIONS",
    "check_spans",
    "generate",
    "read_jsonl",
    "validate_dialogue",
    "write_jsonl",
]
