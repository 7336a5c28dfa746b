"""Running a trained understanding model: padded batches in, logits out, probabilities back.

The only code here that touches the device is :func:`predict_logits`, under
``torch.inference_mode()``; training (:mod:`callintel.training.train`) pads its batches with the
same :func:`collate`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from callintel.understand.tasks import Task

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis, computed stably."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def collate(tokenizer: PreTrainedTokenizerBase, rows: Sequence[dict[str, Any]], task: Task) -> dict[str, Any]:
    """Pad a batch of the model's inputs; token labels are padded with -100 (ignored by the loss)."""
    import torch

    inputs = set(tokenizer.model_input_names)
    features = [{k: v for k, v in row.items() if k in inputs} for row in rows]
    batch = dict(tokenizer.pad(features, return_tensors="pt"))
    if rows and "labels" in rows[0]:
        if task == "attributes":
            width = batch["input_ids"].shape[1]
            batch["labels"] = torch.tensor([r["labels"] + [-100] * (width - len(r["labels"])) for r in rows])
        elif task == "script":
            batch["labels"] = torch.tensor([r["labels"] for r in rows], dtype=torch.float32)
        else:
            batch["labels"] = torch.tensor([r["labels"] for r in rows], dtype=torch.long)
    return batch


def batches(rows: Sequence[dict[str, Any]], batch_size: int, rng: random.Random | None) -> list[list[int]]:
    """Index batches of similar lengths (less padding); shuffled when ``rng`` is given."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    if rng is not None:
        # Shuffle within length buckets, then shuffle the batches.
        order = sorted(order, key=lambda i: (len(rows[i]["input_ids"]) // 8, rng.random()))
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(groups)
    return groups


def predict_logits(
    task: Task,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[dict[str, Any]],
    batch_size: int = 64,
) -> list[np.ndarray]:
    """Logits per row, in the rows' order (token tasks: one array per row, unpadded)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    out: list[np.ndarray | None] = [None] * len(rows)
    with torch.inference_mode():
        for group in batches(rows, batch_size, None):
            batch = collate(
                tokenizer, [{k: v for k, v in rows[i].items() if k != "labels"} for i in group], task
            )
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(**batch).logits.float().cpu().numpy()
            for j, i in enumerate(group):
                out[i] = logits[j, : len(rows[i]["input_ids"])] if task == "attributes" else logits[j]
    return [x for x in out if x is not None]
