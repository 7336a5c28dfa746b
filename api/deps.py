"""The injected dependencies: the database and a session of it, the caller (the API key, its role
and dealers), the settings, the audio store, the workers' wake-up and the synchronous analyzer.

The one module that reads ``app.state`` (set by :func:`api.main.create_app` and its lifespan).

Roles: ``admin`` (everything, keys and scorecards), ``qa`` (upload, read, review), ``crm``
(upload, read, journey, erasure). Every key is scoped to dealers; a call outside the scope is
answered 404, as if it did not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.audio_links import AudioLinks
from api.problems import Problem
from callintel.service.monitoring import AnalysisMetrics
from callintel.service.worker import Analyzer
from callintel.settings import Settings
from callintel.store.blobs import BlobStore
from callintel.store.db import Database
from callintel.store.keys import Principal, authenticate, is_revoked

P = ParamSpec("P")
T = TypeVar("T")


def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


def get_wake_workers(request: Request) -> Callable[[], None]:
    wake: Callable[[], None] = request.app.state.wake_workers
    return wake


def get_analysis_metrics(request: Request) -> AnalysisMetrics:
    """The in-process workers' metrics (:mod:`callintel.service.monitoring`)."""
    metrics: AnalysisMetrics = request.app.state.analysis_metrics
    return metrics


def get_sync_analyzer(request: Request) -> Analyzer | None:
    """The analyzer loaded in the lifespan for ``POST /v1/calls:analyze``; None when this server
    does not analyse synchronously. It takes concurrent calls."""
    analyzer: Analyzer | None = request.app.state.sync_analyzer
    return analyzer


def get_audio_links(request: Request) -> AudioLinks:
    links: AudioLinks = request.app.state.audio_links
    return links


DatabaseDep = Annotated[Database, Depends(get_database)]
AudioLinksDep = Annotated[AudioLinks, Depends(get_audio_links)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
WakeWorkersDep = Annotated[Callable[[], None], Depends(get_wake_workers)]
SyncAnalyzerDep = Annotated[Analyzer | None, Depends(get_sync_analyzer)]
AnalysisMetricsDep = Annotated[AnalysisMetrics, Depends(get_analysis_metrics)]


def get_db(database: DatabaseDep) -> Iterator[Session]:
    """A session for the route: committed when the route returns, before the answer is sent;
    rolled back if it raises. A route may commit earlier, to act once the data is stored."""
    with database.sessions() as session:
        yield session
        session.commit()


# Function scope: the commit happens before the answer is sent, so a client never reads the
# answer of a change that is not stored yet.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


async def in_transaction(
    database: Database, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``work(session, *args, **kwargs)`` in a transaction of its own, on a worker thread.

    For the routes that read an upload or wait for an analysis: they must not hold a transaction
    meanwhile (on SQLite a transaction holds the database's write lock)."""

    def run() -> T:
        with database.session() as session:
            return work(session, *args, **kwargs)

    return await run_in_threadpool(run)


_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer ci_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (alternative header)")


def get_caller(
    database: DatabaseDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal:
    """The caller: the principal of a valid API key (401 without one). The key's last use is
    recorded in a transaction of its own, not held while the route runs."""
    key = bearer.credentials if bearer is not None else header
    if not key:
        raise Problem(
            401,
            "an API key is required (Authorization: Bearer <key>)",
            {"WWW-Authenticate": "Bearer"},
            kind="key-required",
        )
    with database.session() as session:
        found = authenticate(session, key)
        revoked = found is None and is_revoked(session, key)
    if revoked:
        raise Problem(
            401,
            "the API key was revoked",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            kind="key-revoked",
        )
    if found is None:
        raise Problem(
            401,
            "the API key is not valid",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            kind="key-invalid",
        )
    return found


CallerDep = Annotated[Principal, Depends(get_caller)]


def check_metrics_reader(
    settings: SettingsDep, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """``/metrics`` for a scraper: open when ``Settings.metrics_token`` is empty (a service reached
    only from its own network), else the token as a bearer token (401 without it). No API key
    reads it: a scraper needs no dealer's data, and an API key in Prometheus' configuration would
    give it that."""
    token = settings.metrics_token
    if not token:
        return
    given = bearer.credentials if bearer is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Problem(401, "the metrics token is required (Authorization: Bearer <token>)",
                      {"WWW-Authenticate": "Bearer"})  # fmt: skip


MetricsReaderDep = Depends(check_metrics_reader)


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency admitting callers of ``roles`` (admin always); 403 for the others."""

    def check(who: CallerDep) -> Principal:
        if who.role != "admin" and who.role not in roles:
            raise Problem(
                403,
                f"a {who.role} key may not do this (needs {' or '.join(('admin', *roles))})",
                kind="forbidden",
            )
        return who

    return check


QaOrCrmDep = Annotated[Principal, Depends(require("qa", "crm"))]
QaDep = Annotated[Principal, Depends(require("qa"))]
CrmDep = Annotated[Principal, Depends(require("crm"))]
AdminDep = Annotated[Principal, Depends(require())]
