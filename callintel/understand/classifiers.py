"""Run the trained understanding models on one call: scorecard, attributes, intent, tags and
the customer's sentiment per turn.

Split like a transformers pipeline: ``preprocess`` (tokenise all turns of the call),
``_forward`` (the only code that touches the device, one batched pass per model under
``torch.inference_mode``), ``postprocess`` (typed results on the CPU).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from callintel.domain import CHECKPOINTS, SCENARIOS, VIOLATIONS, as_grade, gives_purchase_grade, one_of
from callintel.errors import ModelNotFound
from callintel.understand.conversation import (
    Said,
    plausible,
    read_budget,
    read_cars,
    read_concern_turns,
    read_declined,
    read_payment,
    read_timeline,
    read_trade_in,
)
from callintel.understand.extract import CAR_KEYS, read_mentions
from callintel.understand.inference import collate, predict_logits, softmax
from callintel.understand.intent import customer_characters
from callintel.understand.intent import grade_probabilities as grade_probabilities_of
from callintel.understand.normalize import Gazetteer, call_currency, script_counts
from callintel.understand.scoring import Scorecard, ScoredTurn, Scorer, load_scorecards
from callintel.understand.tags import LIST_ATTRIBUTES, make_tags
from callintel.understand.tasks import (
    CUSTOMER_SEPARATOR,
    REQUIRED_TASKS,
    AttributeExample,
    IntentExample,
    ScriptExample,
    SentimentExample,
    encode_attributes,
    encode_intent,
    encode_script,
    encode_sentiment,
)
from callintel.understand.types import (
    AttributeEvidence,
    AttributeValue,
    CallToUnderstand,
    CallTurn,
    IntentResult,
    TurnSentiment,
    Understanding,
    UnderstandingModels,
)

logger = logging.getLogger(__name__)


_SCORER_CACHE = 32  # scorers kept per understander, by scorecard content


class Understander:
    """The trained models, the gazetteer and the scorecards, ready for calls.

    ``sentiment_model`` names the sentiment model (``<directory version>/sentiment``), or is
    None when ``directory`` was trained before it existed: results then have no sentiment.
    """

    def __init__(self, directory: Path, models_dir: Path, device: str = "auto") -> None:
        # torch and transformers take seconds to import: only an understander needs them.
        import torch
        from transformers import (
            AutoModelForSequenceClassification,
            AutoModelForTokenClassification,
            AutoTokenizer,
        )

        directory = Path(directory)
        missing = [t for t in REQUIRED_TASKS if not (directory / t / "config.json").is_file()]
        if missing:
            raise ModelNotFound(
                f"understanding models {missing} are not trained in {directory}; run: callintel train"
            )
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.directory = directory
        has_sentiment = (directory / "sentiment" / "config.json").is_file()
        if not has_sentiment:
            logger.warning(
                "no sentiment model in %s (trained before it existed): results will have no sentiment; "
                "add it with: callintel train --task sentiment --out %s",
                directory,
                directory,
            )
        tasks = REQUIRED_TASKS + (("sentiment",) if has_sentiment else ())
        with _quiet_loading():

            def load(auto: Any, task: str) -> Any:
                return auto.from_pretrained(directory / task).to(self.device).eval()

            self.tokenizers = {t: AutoTokenizer.from_pretrained(directory / t) for t in tasks}
            self.script = load(AutoModelForSequenceClassification, "script")
            self.attributes = load(AutoModelForTokenClassification, "attributes")
            self.intent = load(AutoModelForSequenceClassification, "intent")
            self.sentiment = load(AutoModelForSequenceClassification, "sentiment") if has_sentiment else None
        self.temperature = float(getattr(self.intent.config, "calibration_temperature", 1.0))
        self.gazetteer = Gazetteer.from_models_dir(models_dir)
        self.scorecards = load_scorecards(models_dir)
        self._scorers: dict[str, Scorer] = {}  # by scorecard content (see scorer())
        # One call at a time through the classifiers: transformers' fast tokenizers set padding and
        # truncation on a shared Rust object per call and raise "Already borrowed" when two threads
        # meet there (huggingface/tokenizers#537). The stage is ~1% of an analysis, so the service's
        # threads still overlap where the time goes (Whisper).
        self._lock = threading.RLock()
        info = (
            json.loads((directory / "training.json").read_text("utf-8"))
            if (directory / "training.json").is_file()
            else {}
        )
        version = str(info.get("version", directory.name))
        self.models = UnderstandingModels(
            directory_version=version,
            script=f"{version}/script",
            attributes=f"{version}/attributes",
            intent=f"{version}/intent",
        )
        # UnderstandingModels has no sentiment field: the model is named here, and in
        # training.json's "tasks" like the others.
        self.sentiment_model = f"{version}/sentiment" if has_sentiment else None

    def with_scorecards(self, cards: Mapping[str, Scorecard]) -> Understander:
        """This understander (the same loaded models) scoring with ``cards`` (scenario -> card,
        e.g. the scorecards edited through the API) instead of the files' for their scenarios.
        ``self`` is unchanged."""
        view = copy.copy(self)
        view.scorecards = {**self.scorecards, **cards}
        return view

    def scorer(self, scenario: str, card: Scorecard | None = None) -> Scorer:
        """The scorer of ``card``, or of the scenario's scorecard when ``card`` is None.

        Scorers are cached by scorecard content, so an edited scorecard is scored as edited
        from its first use, and concurrent calls with different scorecards never share one."""
        if card is None:
            if scenario not in self.scorecards:
                raise ValueError(f"unknown scenario {scenario!r}; scorecards: {sorted(self.scorecards)}")
            card = self.scorecards[scenario]
        key = card.model_dump_json()
        scorer = self._scorers.get(key)
        if scorer is None:
            scorer = Scorer(card, embed=self.embed)
            if len(self._scorers) >= _SCORER_CACHE:
                self._scorers.pop(next(iter(self._scorers)), None)
            self._scorers[key] = scorer
        return scorer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings from the script model (mean of its last hidden states)."""
        import torch

        with self._lock, torch.inference_mode():
            return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokenizer = self.tokenizers["script"]
        rows = encode_script(tokenizer, [ScriptExample("", t) for t in texts])
        batch = collate(tokenizer, [{k: v for k, v in r.items() if k != "labels"} for r in rows], "script")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        hidden = self.script.base_model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()

    def understand(
        self,
        turns: Sequence[CallTurn],
        scenario: str,
        call_date: dt.date | None = None,
        scorecard: Scorecard | None = None,
    ) -> Understanding:
        """Score, extract and grade one call. Turns are in time order; ``scorecard`` replaces
        the scenario's own (None: the scenario's file)."""
        return self.understand_many([CallToUnderstand(turns, scenario, call_date, scorecard)])[0]

    def understand_many(self, calls: Sequence[CallToUnderstand]) -> list[Understanding]:
        """Understanding of several calls, each model run once over the rows of all of them.
        Each call's ``understand`` timing is its share (by rows) of the time the group took."""
        with self._lock:
            return self._understand_many(calls)

    def _understand_many(self, calls: Sequence[CallToUnderstand]) -> list[Understanding]:
        scorers = [self.scorer(c.scenario, c.scorecard) for c in calls]
        clock = time.perf_counter()
        inputs = [self.preprocess(c.turns) for c in calls]
        tasks = ("script", "attributes", "intent", "sentiment")
        joined = {task: [row for one in inputs for row in one[task]] for task in tasks}
        outputs = self._forward(joined)
        results = []
        start = dict.fromkeys(tasks, 0)
        for call, one, scorer in zip(calls, inputs, scorers, strict=True):
            own = {}
            for task in tasks:
                count = len(one[task])
                own[task] = outputs[task][start[task] : start[task] + count]
                start[task] += count
            date = call.call_date or dt.date.today()
            results.append(self.postprocess(call.turns, one, own, scorer, call.scenario, date))
        elapsed = time.perf_counter() - clock
        rows = [sum(len(one[task]) for task in tasks) for one in inputs]
        for result, count in zip(results, rows, strict=True):
            result.timings["understand"] = round(elapsed * count / max(1, sum(rows)), 3)
        return results

    def preprocess(self, turns: Sequence[CallTurn]) -> dict[str, Any]:
        sales = [i for i, t in enumerate(turns) if t.role == "sales"]
        customer = [i for i, t in enumerate(turns) if t.role == "customer"]
        script_rows = encode_script(
            self.tokenizers["script"],
            [ScriptExample(turns[i - 1].text if i > 0 else "", turns[i].text) for i in sales],
        )
        attribute_rows = encode_attributes(
            self.tokenizers["attributes"], [AttributeExample(turns[i].text) for i in customer]
        )
        offsets = [row["offset_mapping"] for row in attribute_rows]
        customer_text = CUSTOMER_SEPARATOR.join(turns[i].text for i in customer)
        intent_rows = encode_intent(self.tokenizers["intent"], [IntentExample(customer_text)])
        sentiment_rows = (
            encode_sentiment(
                self.tokenizers["sentiment"],
                [SentimentExample(turns[i].text) for i in customer],
            )
            if self.sentiment is not None
            else []
        )
        return {
            "sales": sales,
            "customer": customer,
            "script": script_rows,
            "attributes": attribute_rows,
            "offsets": offsets,
            "intent": intent_rows,
            "sentiment": sentiment_rows,
        }

    def _forward(self, inputs: dict[str, Any]) -> dict[str, list[np.ndarray]]:
        return {
            "script": predict_logits("script", self.script, self.tokenizers["script"], inputs["script"])
            if inputs["script"]
            else [],
            "attributes": predict_logits(
                "attributes", self.attributes, self.tokenizers["attributes"], inputs["attributes"]
            )
            if inputs["attributes"]
            else [],
            "intent": predict_logits("intent", self.intent, self.tokenizers["intent"], inputs["intent"]),
            "sentiment": predict_logits(
                "sentiment", self.sentiment, self.tokenizers["sentiment"], inputs["sentiment"]
            )
            if self.sentiment is not None and inputs["sentiment"]
            else [],
        }

    def postprocess(
        self,
        turns: Sequence[CallTurn],
        inputs: dict[str, Any],
        outputs: dict[str, list[np.ndarray]],
        scorer: Scorer,
        scenario: str,
        call_date: dt.date,
    ) -> Understanding:
        script_labels = [self.script.config.id2label[i] for i in range(self.script.config.num_labels)]
        probabilities = {
            index: dict(zip(script_labels, 1 / (1 + np.exp(-logits)), strict=True))
            for index, logits in zip(inputs["sales"], outputs["script"], strict=True)
        }
        attributes: dict[str, list[tuple[Any, AttributeEvidence]]] = {}
        concern_turns = read_concern_turns(turns)
        bio = [self.attributes.config.id2label[i] for i in range(self.attributes.config.num_labels)]
        for index, logits, offsets in zip(
            inputs["customer"], outputs["attributes"], inputs["offsets"], strict=True
        ):
            turn = turns[index]
            for mention in read_mentions(turn.text, softmax(logits), offsets, bio, call_date, self.gazetteer):
                if mention.key == "concerns":
                    concern_turns.add(index)
                evidence = AttributeEvidence(index, turn.start, turn.end, mention.text, mention.score)
                attributes.setdefault(mention.key, []).append((mention.value, evidence))
        scored = [
            ScoredTurn(
                index=i,
                role="sales" if t.role == "sales" else "customer",
                text=t.text,
                start=t.start,
                end=t.end,
                checkpoints={k: float(probabilities[i][k]) for k in CHECKPOINTS}
                if i in probabilities
                else {},
                violations={k: float(probabilities[i][k]) for k in VIOLATIONS} if i in probabilities else {},
                customer_concern=i in concern_turns,
            )
            for i, t in enumerate(turns)
        ]
        scorecard = scorer.score(scored)
        self._read_conversation(turns, call_date, attributes)
        language = call_language(turns)
        for key in CAR_KEYS & attributes.keys():
            attributes[key] = [(self.gazetteer.named(v, language), e) for v, e in attributes[key]]
        currency = call_currency(" ".join(t.text for t in turns))
        if currency != "CNY" and "budget_cny" in attributes:
            attributes["budget_cny"] = [({**v, "currency": currency}, e) for v, e in attributes["budget_cny"]]
        merged = {key: _merge(key, values) for key, values in attributes.items()}
        intent_labels = [self.intent.config.id2label[i] for i in range(self.intent.config.num_labels)]
        timeline = merged.get("purchase_timeline_days")
        declined = read_declined(turns)
        grade_probabilities = grade_probabilities_of(
            softmax(outputs["intent"][0] / self.temperature),
            intent_labels,
            None if timeline is None else timeline.days(),
            getattr(self.intent.config, "timeline_reliability", None),
            declined=None if declined is None else str(declined.value),
            customer_characters=customer_characters([t.text for t in turns if t.role == "customer"]),
        )
        intent: IntentResult | None = IntentResult(
            grade=as_grade(intent_labels[int(np.argmax(grade_probabilities))]),
            probabilities={
                as_grade(g): round(float(p), 4)
                for g, p in zip(intent_labels, grade_probabilities, strict=True)
            },
        )
        if not gives_purchase_grade(scenario):
            # An after-sales call is no sale: no grade, and no purchase timeline (a repair booked
            # "in two days" is no plan to buy within a week).
            intent = None
            merged.pop("purchase_timeline_days", None)
        return Understanding(
            scenario=one_of(scenario, SCENARIOS, "scenario"),
            call_date=call_date.isoformat(),
            scorecard=scorecard,
            attributes=merged,
            intent=intent,
            tags=make_tags(merged, intent, scorecard),
            models=self.models,
            sentiment=self._sentiments(inputs["customer"], outputs["sentiment"]),
        )

    def _read_conversation(
        self,
        turns: Sequence[CallTurn],
        call_date: dt.date,
        attributes: dict[str, list[tuple[Any, AttributeEvidence]]],
    ) -> None:
        """Budget, timeline, payment, trade-in and cars read from the whole conversation replace
        the tagger's turn-level mentions (see ``callintel.understand.conversation``); where the
        readers find no budget or timeline, the tagger's that the conversation does not rule
        out are kept."""

        def evidence(said: Said) -> tuple[Any, AttributeEvidence]:
            turn = turns[said.turn]
            return said.value, AttributeEvidence(said.turn, turn.start, turn.end, said.text, said.confidence)

        budget = read_budget(turns)
        timeline = read_timeline(turns, call_date)
        payment = read_payment(turns)
        trade_in = read_trade_in(turns)
        interest, competitors = read_cars(turns, self.gazetteer)
        for key, found in (
            ("budget_cny", [budget] if budget else []),
            ("purchase_timeline_days", [timeline] if timeline else []),
            ("payment", [payment] if payment else []),
            ("trade_in", [trade_in] if trade_in else []),
            ("models_of_interest", interest),
            ("competitors", competitors),
        ):
            tagged = attributes.pop(key, [])
            if found:
                attributes[key] = [evidence(s) for s in found]
            elif key == "purchase_timeline_days":
                kept = [(v, e) for v, e in tagged if plausible(key, turns[e.turn], e.text)]
                if kept:
                    attributes[key] = kept

    def _sentiments(self, customer: Sequence[int], logits: Sequence[np.ndarray]) -> tuple[TurnSentiment, ...]:
        """A TurnSentiment per customer turn (``turn``: its index in the call's turns)."""
        if self.sentiment is None:
            return ()
        config = self.sentiment.config
        labels = [config.id2label[i] for i in range(config.num_labels)]
        temperature = float(getattr(config, "calibration_temperature", 1.0))
        out = []
        for index, row in zip(customer, logits, strict=True):
            p = dict(zip(labels, (float(x) for x in softmax(row / temperature)), strict=True))
            out.append(
                TurnSentiment(
                    turn=index,
                    label=max(p, key=p.__getitem__),
                    score=round(p["positive"] - p["negative"], 4),
                    probabilities={k: round(v, 4) for k, v in p.items()},
                )
            )
        return tuple(out)


def call_language(turns: Sequence[CallTurn]) -> str:
    """``en`` when most letters of the call are Latin, else ``zh``."""
    chinese, latin = script_counts("".join(t.text for t in turns))
    return "en" if latin > 2 * chinese else "zh"


def _merge(key: str, values: list[tuple[Any, AttributeEvidence]]) -> AttributeValue:
    """List attributes collect distinct values; the others keep the customer's latest word."""
    if key in LIST_ATTRIBUTES:
        distinct: list[Any] = []
        for value, _ in values:
            if value not in distinct:
                distinct.append(value)
        return AttributeValue(distinct, tuple(e for _, e in values))
    value, evidence = values[-1]
    return AttributeValue(value, (evidence,))


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """transformers' "Loading weights" progress bars off while the models load (a service's log
    and the command line's output are no place for them), as they were after."""
    from transformers.utils import logging as transformers_logging

    enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            transformers_logging.enable_progress_bar()
