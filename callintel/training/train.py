"""Train the understanding models: transformers' own classes, from scratch or a checkpoint.

From scratch, each task gets a small BERT (4 layers) on the project's tokenizer. With
``base_model`` (any Hugging Face checkpoint directory, e.g. a Chinese RoBERTa), the same code
fine-tunes that model with its own tokenizer. Models are saved with ``save_pretrained``.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    BertConfig,
    BertForSequenceClassification,
    BertForTokenClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    get_linear_schedule_with_warmup,
)

from callintel.domain import GRADES, VIOLATIONS
from callintel.training.config import TrainConfig
from callintel.understand.inference import batches, collate
from callintel.understand.tasks import BIO_LABELS, MAX_LENGTH, SCRIPT_LABELS, SENTIMENT_LABELS, Task

logger = logging.getLogger(__name__)

ProblemType = Literal["single_label_classification", "multi_label_classification"]
StepHook = Callable[[int, int, float], None]
"""Called as ``hook(step, total_steps, loss)`` during training."""


def _no_hook(step: int, total: int, loss: float) -> None:
    return None


def labels_of(task: Task) -> tuple[str, ...]:
    return {
        "script": SCRIPT_LABELS,
        "attributes": BIO_LABELS,
        "intent": tuple(GRADES),
        "sentiment": SENTIMENT_LABELS,
    }[task]


def build_model(task: Task, tokenizer: PreTrainedTokenizerBase, config: TrainConfig) -> PreTrainedModel:
    """A new model for ``task``: a small BERT from scratch, or ``config.base_model`` fine-tuned."""
    labels = labels_of(task)
    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    problem: ProblemType = "multi_label_classification" if task == "script" else "single_label_classification"
    if config.base_model is not None:
        auto = AutoModelForTokenClassification if task == "attributes" else AutoModelForSequenceClassification
        kwargs: dict[str, Any] = {"num_labels": len(labels), "id2label": id2label, "label2id": label2id}
        if task != "attributes":
            kwargs["problem_type"] = problem
        return auto.from_pretrained(config.base_model, **kwargs)
    bert = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        initializer_range=config.initializer_range,
        max_position_embeddings=max(MAX_LENGTH.values()) + 2,
        pad_token_id=tokenizer.pad_token_id,
        id2label=id2label,
        label2id=label2id,
        problem_type=problem if task != "attributes" else None,
    )
    torch.manual_seed(config.seed)
    if task == "attributes":
        return BertForTokenClassification(bert)
    return BertForSequenceClassification(bert)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_model(
    task: Task,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[dict[str, Any]],
    config: TrainConfig,
    hook: StepHook = _no_hook,
) -> PreTrainedModel:
    """Fine-tune ``model`` on encoded ``rows`` with AdamW and a linear schedule."""
    seed_everything(config.seed)
    rng = random.Random(config.seed)
    if config.max_examples is not None and len(rows) > config.max_examples:
        rows = rng.sample(list(rows), config.max_examples)
    if task == "script" and config.oversample_rare > 1:
        # Violations are rare (1-2% of sales turns): repeat the turns that carry one.
        rare = [r for r in rows if any(r["labels"][len(SCRIPT_LABELS) - len(VIOLATIONS) :])]
        rows = list(rows) + rare * (config.oversample_rare - 1)
    epochs_whole = math.ceil(config.epochs)
    steps_per_epoch = math.ceil(len(rows) / config.batch_size)
    total = max(1, int(steps_per_epoch * config.epochs))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_ratio), total)
    model.train()
    step = 0
    for _ in range(epochs_whole):
        for group in batches(rows, config.batch_size, rng):
            if step >= total:
                break
            batch = collate(tokenizer, [rows[i] for i in group], task)
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            hook(step, total, float(loss.detach()))
    model.eval()
    return model


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): the T that minimises validation NLL."""
    logits_t = torch.tensor(logits, dtype=torch.float32)
    labels_t = torch.tensor(labels, dtype=torch.long)
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits_t / log_t.exp(), labels_t)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())
