"""Batch analysis on a Ray cluster: the local engine's stages (:mod:`callintel.batch.local`) as a Ray Data
pipeline, for more recordings than one machine gets through.

- **Decode** (``batch.load``: hash, decode, VAD) runs in Ray tasks of one CPU each, anywhere in the
  cluster; a recording the ledger has as done is only hashed.
- **Models** run in a pool of actors (``actors``, each with ``num_gpus`` and ``cpus_per_actor``),
  each loading them once, ``group`` recordings a call. Content the ledger already has a result for
  is not analysed again.
- **The driver** (the calling process) writes the ledger, the only writer, as recordings come back.

Ray returns recordings in no fixed order; the records do not depend on it. A content new to the
ledger is ``done`` at its first path (in input order) and ``reused`` at the others, as with the
local engine. A copy that reaches the models in another call than its first is analysed there too,
and that answer dropped: the only work done twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from callintel.batch.local import (
    MODEL_ERRORS,
    AnalyzeMany,
    BatchItem,
    Ledger,
    Loaded,
    Outcome,
    Skip,
    Summary,
    load,
    outcome_of,
    pipeline_stage,
    record,
)
from callintel.errors import RayNotInstalled
from callintel.pipeline import Pipeline, Prepared
from callintel.result import AnalysisResult
from callintel.settings import Settings

if TYPE_CHECKING:
    from types import ModuleType

logger = logging.getLogger(__name__)

# Memory each decode task reserves (Ray's logical ``memory`` resource): an hour of stereo call is
# ~0.5 GB of float32 samples at 16 kHz, plus the mono mix. It keeps a node with many cores from
# decoding more calls at once than it holds; and, the tasks' resources differing from the actors',
# it keeps Ray Data from fusing the decode into the model actors (decoding would then wait on the models).
DECODE_MEMORY = 1 << 30
# One recording a decode task, up to this many tasks; then a few recordings each. Each task costs the
# driver's scheduler some milliseconds (~8 ms on 2 busy cores), and each block ~1 ms to set up.
MAX_DECODE_TASKS = 2000


@dataclass(frozen=True)
class PipelineStage:
    """Makes the real models' stage inside each actor: the pipeline the CLI loads, with the
    settings of the node it runs on (its ``CALLINTEL_*`` environment, its model cache)."""

    asr_model: str | None = None
    device: str = "auto"
    compute_type: str = "auto"
    understanding_dir: str | None = None

    def __call__(self) -> AnalyzeMany:
        pipeline = Pipeline.from_settings(
            Settings.from_env(),
            self.asr_model,
            device=self.device,
            compute_type=self.compute_type,
            understanding_dir=Path(self.understanding_dir) if self.understanding_dir else None,
        )
        return pipeline_stage(pipeline)


def run_batch_ray(
    items: Sequence[BatchItem],
    make_stage: Callable[[], AnalyzeMany],
    ledger: Ledger,
    *,
    group: int = 8,
    actors: int = 1,
    num_gpus: float = 0.0,
    cpus_per_actor: float = 1,
    address: str | None = None,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
) -> Summary:
    """Analyse ``items`` on Ray, writing each outcome to ``ledger``: what
    :func:`callintel.batch.local.run_batch`
    does, with the decoding spread over the cluster's CPUs and the models over ``actors`` actors.

    Args:
        make_stage: picklable, called once in each actor to load the models (e.g. :class:`PipelineStage`).
        group: recordings per call of the models (their classifiers batch across them).
        num_gpus: GPUs of each actor; a fraction shares one GPU between actors.
        address: the cluster to connect to (``auto``: the one started on this machine with
            ``ray start``). Without it, Ray's own choice: ``RAY_ADDRESS`` (set in a ``ray job``), a
            cluster started on this machine with ``ray start``, or else a new instance of this
            machine's CPUs and GPUs, stopped at the end. A connection this process already has is
            used and left open.
    """
    ray = _import_ray()
    summary = Summary(total=len(items))
    if not items:
        return summary
    if any(not item.path.is_absolute() for item in items):
        logger.warning("relative paths are read from each Ray worker's directory: give absolute ones")
    started = time.perf_counter()
    paths = {str(item.path) for item in items}
    done = frozenset(pair for pair in ledger.done_paths if pair[0] in paths)
    known = frozenset(sha for _, sha in ledger.done_paths)
    settler = _Settler(items, ledger, known)
    with _connected(ray, address), _quiet_data(ray):
        dataset = ray.data.from_items(
            [{"index": index, "item": item} for index, item in enumerate(items)],
            override_num_blocks=min(len(items), MAX_DECODE_TASKS),
        )
        decoded = dataset.map(_decode, fn_kwargs={"done": done}, num_cpus=1, memory=DECODE_MEMORY)
        analysed = decoded.map_batches(
            _Models,
            fn_constructor_args=(make_stage, ledger.fingerprint, known),
            batch_size=max(1, group),
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=max(1, actors)),
            **_actor_resources(num_gpus, cpus_per_actor),
        )
        for row in analysed.iter_rows():
            for outcome in settler.add(int(row["index"]), row["back"]):
                summary.add(outcome)
                summary.wall_seconds = time.perf_counter() - started
                on_outcome(outcome)
    if settler.waiting or len(settler.arrived) != len(items):
        raise RuntimeError(f"Ray returned {len(settler.arrived)} of {len(items)} recordings")
    order = {str(item.path): index for index, item in reversed(list(enumerate(items)))}
    summary.failures.sort(key=lambda failure: order[failure[0]])
    return summary


def _actor_resources(num_gpus: float, cpus: float) -> dict[str, float]:
    # Ray Data gives an actor that names no CPUs one, and warns ("experimental") where an actor
    # names both CPUs and GPUs: so a GPU actor of one CPU names only its GPUs.
    if num_gpus and cpus == 1:
        return {"num_gpus": num_gpus}
    return {"num_cpus": cpus, "num_gpus": num_gpus}


# --- Ray Data stages (module level: Ray pickles them by reference) ------------------------------


def _decode(row: dict[str, Any], done: frozenset[tuple[str, str]]) -> dict[str, Any]:
    """The CPU stage of one recording: ``batch.load``, skipping the (path, content) pairs done."""
    item: BatchItem = row["item"]
    loaded = load(item, lambda path, sha256: (str(path), sha256) in done)
    return {"index": row["index"], "item": item, "loaded": loaded}


@dataclass(frozen=True)
class _Decoded:
    """A decoded recording back from the models, without its samples: ``as_copy`` is its record
    built with an empty result (what a copy's record is made from), ``own`` its record with the
    models' answer (None where they did not run on it)."""

    sha256: str
    as_copy: dict[str, Any]
    own: dict[str, Any] | None = None


Back = Skip | Exception | _Decoded


class _Models:
    """The models' stage in a Ray actor: runs ``make_stage``'s stage on a batch's decoded recordings
    (each content once, the first in input order), passes the others through."""

    def __init__(self, make_stage: Callable[[], AnalyzeMany], fingerprint: str, known: frozenset[str]):
        self.make_stage = make_stage
        self.fingerprint = fingerprint
        self.known = known  # contents the ledger has a result for
        self.analyze: AnalyzeMany | None = None  # loaded on the first work: a rerun with none loads nothing

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows: list[tuple[int, BatchItem, Loaded]] = sorted(
            zip((int(i) for i in batch["index"]), batch["item"], batch["loaded"], strict=True),
            key=lambda row: row[0],
        )
        work: dict[str, tuple[int, BatchItem, Prepared]] = {}
        for index, item, loaded in rows:
            if isinstance(loaded, Prepared) and loaded.sha256 not in self.known:
                work.setdefault(loaded.sha256, (index, item, loaded))
        answers: dict[int, AnalysisResult | Exception] = {}
        if work:
            if self.analyze is None:
                self.analyze = self.make_stage()
            calls = list(work.values())
            try:
                results = self.analyze([(item, prepared) for _, item, prepared in calls])
            except MODEL_ERRORS as e:
                results = [e] * len(calls)
            answers = {index: answer for (index, _, _), answer in zip(calls, results, strict=True)}
        back = np.empty(len(rows), dtype=object)
        for position, (index, item, loaded) in enumerate(rows):
            back[position] = self._back(item, loaded, answers.get(index))
        return {"index": np.array([index for index, _, _ in rows], dtype=np.int64), "back": back}

    def _back(self, item: BatchItem, loaded: Loaded, answer: AnalysisResult | Exception | None) -> Back:
        if not isinstance(loaded, Prepared):
            return loaded
        own = None if answer is None else record(item, self.fingerprint, loaded, answer)
        return _Decoded(loaded.sha256, record(item, self.fingerprint, loaded, {}), own)


# --- The driver -----------------------------------------------------------------------------------


class _Settler:
    """Writes the records of recordings coming back in any order, as the local engine would in
    input order: a content new to the ledger is ``done`` (or failed) at its first path, and its
    copies are ``reused`` (or failed with it).

    Copies have equal file sizes, so a decoded recording waits only for the earlier recordings of
    its size (usually none) to come back before its record is written.
    """

    def __init__(self, items: Sequence[BatchItem], ledger: Ledger, known: frozenset[str]) -> None:
        self.items = items
        self.ledger = ledger
        self.known = known
        self.size_of = [_size(item.path) for item in items]
        self.members: dict[int | None, list[int]] = {}  # indices of the recordings of each size
        for index, size in enumerate(self.size_of):
            self.members.setdefault(size, []).append(index)
        self.front = dict.fromkeys(self.members, 0)  # how many of a size's first members are back
        self.arrived: set[int] = set()
        self.waiting: dict[int, _Decoded] = {}
        self.firsts: set[str] = set()  # contents settled in this batch

    def add(self, index: int, back: Back) -> list[Outcome]:
        """The outcomes this recording's return settles: its own and those of copies it held up."""
        item = self.items[index]
        outcomes = []
        if isinstance(back, Skip):
            outcomes.append(Outcome(item, "skipped"))
        elif isinstance(back, Exception):
            outcomes.append(self._write(item, record(item, self.ledger.fingerprint, back, back)))
        elif back.sha256 in self.known:
            outcomes.append(self._write(item, self._copy(item, back)))
        else:
            self.waiting[index] = back
        self.arrived.add(index)
        size = self.size_of[index]
        members, start = self.members[size], self.front[size]
        end = start
        while end < len(members) and members[end] in self.arrived:
            end += 1
        self.front[size] = end
        for ready in members[start:end]:
            if ready in self.waiting:
                outcomes.append(self._settle(ready, self.waiting.pop(ready)))
        return outcomes

    def _settle(self, index: int, decoded: _Decoded) -> Outcome:
        item = self.items[index]
        if decoded.sha256 in self.firsts:
            return self._write(item, self._copy(item, decoded))
        self.firsts.add(decoded.sha256)
        if decoded.own is None:  # the first of a content is the first in its call: always analysed
            raise RuntimeError(f"{item.path}: the models did not run on a new content")
        return self._write(item, decoded.own)

    def _copy(self, item: BatchItem, decoded: _Decoded) -> dict[str, Any]:
        """A copy's record: the stored result of its content, or the failure of its first."""
        stored = self.ledger.result_of(decoded.sha256)
        if stored:
            return {**decoded.as_copy, "status": "reused", "result": dict(stored)}
        failed = RuntimeError("the same content failed earlier in this batch")
        return record(item, self.ledger.fingerprint, failed, failed) | {"sha256": decoded.sha256}

    def _write(self, item: BatchItem, written: dict[str, Any]) -> Outcome:
        self.ledger.write(written)
        return outcome_of(item, written)


def _size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None  # it fails to load; all such wait on each other, harmlessly


# --- Ray itself -------------------------------------------------------------------------------------


def _import_ray() -> ModuleType:
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise RayNotInstalled("the Ray engine needs Ray: pip install 'callintel[ray]'") from e
    return ray


@contextmanager
def _connected(ray: ModuleType, address: str | None) -> Iterator[None]:
    """Connected to ``address``, to a new local instance, or (already) to the caller's."""
    if ray.is_initialized():
        if address:
            logger.warning("already connected to Ray: not connecting to %s", address)
        yield
        return
    ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()  # stops an instance started here; from a cluster it only disconnects


# Ray Data's settings for this batch: rows carry Python objects (pickled through the object store,
# never turned into Arrow columns); no progress bars or statistics of its own (the CLI draws one).
_DATA_SETTINGS = {
    "enable_fallback_to_arrow_object_ext_type": True,
    "enable_progress_bars": False,
    "enable_auto_log_stats": False,
}
# Ray Data logs each run at INFO, and that its progress bars are off as a warning.
_DATA_LOG_LEVELS = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}


@contextmanager
def _quiet_data(ray: ModuleType) -> Iterator[None]:
    """Ray Data set up for this batch, and as it was again afterwards (the datasets built inside
    keep the settings)."""
    context = ray.data.DataContext.get_current()
    settings = {name: getattr(context, name) for name in _DATA_SETTINGS}
    levels = {name: logging.getLogger(name).level for name in _DATA_LOG_LEVELS}
    for name, value in _DATA_SETTINGS.items():
        setattr(context, name, value)
    for name, level in _DATA_LOG_LEVELS.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, value in settings.items():
            setattr(context, name, value)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
