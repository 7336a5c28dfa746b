"""The service's tables (SQLAlchemy 2 declarative models).

Every row that belongs to a dealer carries ``dealer_id``: the API filters on it for every
read and write, so one dealer's key never reaches another dealer's calls.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

# SQLite's FTS5 table of search_turns (migration 0007) and the shadow tables FTS5 keeps for it:
# not described by these models, so Alembic's comparison and autogenerate leave them alone.
_FULL_TEXT_TABLES = re.compile(r"search_fts(_(data|idx|content|docsize|config))?")


POSTGRES_ONLY_INDEXES = frozenset({"ix_search_turns_tokens"})


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name``: whether the models describe this database object."""
    return not (type_ == "table" and name is not None and _FULL_TEXT_TABLES.fullmatch(name))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object``: an index the models declare for PostgreSQL only (``ddl_if``,
    which Alembic does not read) is compared where the database has it, not missed elsewhere."""
    return not (type_ == "index" and name in POSTGRES_ONLY_INDEXES and not reflected and compare_to is None)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Dealer(Base):
    __tablename__ = "dealers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; ``prefix`` finds it and is safe to show."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    dealers: Mapped[list[Any]] = mapped_column(default=list)  # dealer ids, or ["*"] for all
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Recording(Base):
    """An audio file, stored once under its content hash whatever its name was."""

    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    format: Mapped[str] = mapped_column(String(16))
    storage_path: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("dealer_id", "external_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealers.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("dealer_id", "idempotency_key"),
        Index("ix_calls_dealer_created", "dealer_id", "created_at"),
        Index("ix_calls_dealer_external", "dealer_id", "external_id"),
        Index("ix_calls_dealer_audio", "dealer_id", "audio_sha256"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealers.id"))
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    salesperson_id: Mapped[str | None] = mapped_column(String(200), default=None)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None, index=True)
    lead_id: Mapped[str | None] = mapped_column(String(200), default=None)
    scenario: Mapped[str] = mapped_column(String(32))
    channel_layout: Mapped[str] = mapped_column(String(16), default="auto")
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    recorded_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    recording_id: Mapped[str | None] = mapped_column(ForeignKey("recordings.id"), default=None, index=True)
    # The SHA-256 of the bytes uploaded (the recording may be replaced by a muted copy later): an
    # upload of audio this dealer already had analysed reuses that call's transcript (issue 17).
    audio_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    reused_transcript_of: Mapped[str | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL", name="fk_calls_reused_transcript_of"), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|processing|done|failed
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # What the calls list filters and sorts on, kept by callintel.store.outcomes from the newest
    # analysis with QA's review applied (a reviewed value wins over the model's).
    grade: Mapped[str | None] = mapped_column(String(1), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    recording: Mapped[Recording | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    outcomes: Mapped[list[CallOutcome]] = relationship(viewonly=True)


class CallOutcome(Base):
    """One scorecard item's outcome on a call: a checkpoint ``passed``, ``missed`` or not
    applicable (``n/a``), or a violation ``committed`` (no row when it was not). ``reviewed``
    when QA set it rather than the model."""

    __tablename__ = "call_outcomes"
    __table_args__ = (Index("ix_call_outcomes_item", "kind", "key", "outcome"),)

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # checkpoint|violation
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))  # passed|missed|n/a|committed
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)


class Job(Base):
    """A unit of queued work. A worker holds it by lease (``lease_owner`` until
    ``lease_expires_at``), renewed by heartbeat; an expired lease lets another worker take it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "available_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="analyze")
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    available_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Transcript(Base):
    __tablename__ = "transcripts"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    turns: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SearchTokens(TypeDecorator[list[str]]):
    """A turn's search tokens (:mod:`callintel.store.search`), in each database's full-text form:
    PostgreSQL keeps a ``tsvector`` (token and position, e.g. ``'比亚':1 '亚迪':2``) for its GIN
    index; SQLite keeps the tokens space-separated, the content its FTS5 table indexes. Written,
    never read back."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> TypeEngine[Any]:
        return dialect.type_descriptor(TSVECTOR() if dialect.name == "postgresql" else Text())

    def process_bind_param(self, value: list[str] | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            # Tokens are letters and digits only (no quote or backslash to escape).
            return " ".join(f"'{token}':{min(i, 16383)}" for i, token in enumerate(value, 1))
        return " ".join(value)

    def process_result_value(self, value: Any, dialect: Any) -> list[str] | None:
        return None if value is None else str(value).split()


class SearchTurn(Base):
    """One transcript turn as search finds it: written with the call's transcript (so what
    redaction masked is never here) and deleted with the call. SQLite indexes ``tokens`` in the
    FTS5 table ``search_fts`` (kept by triggers), PostgreSQL in a GIN index."""

    __tablename__ = "search_turns"
    __table_args__ = (
        Index("ix_search_turns_tokens", "tokens", postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    # The call's, copied (they never change): search filters and sorts on them without a join.
    dealer_id: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(32))
    called_at: Mapped[dt.datetime] = mapped_column()  # recorded, else uploaded
    turn: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[list[str]] = mapped_column(SearchTokens())


class Analysis(Base):
    __tablename__ = "analyses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    scorecard: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    intent: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    models: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the full AnalysisResult JSON
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TagRecord(Base):
    """A tag on a customer's journey: kept for history; the newest per key is current.

    ``source`` is ``model`` (an analysis gave it) or ``review`` (QA's correction gave it, by
    ``reviewer`` at ``created_at``). ``as_of`` places it on the journey: the time of the analysis
    it belongs to (``analysis_id``), so a review's tags stand where the call's analysis stood.
    ``superseded_at`` marks a tag that is no longer the call's (QA corrected it, or the call was
    analysed again): it stays in the history and is never current."""

    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_customer_key", "customer_id", "key", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealers.id"), index=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(400))
    confidence: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="model")  # model|review
    analysis_id: Mapped[str | None] = mapped_column(String(32), default=None)  # the analysis it belongs to
    reviewer: Mapped[str | None] = mapped_column(String(200), default=None)
    as_of: Mapped[dt.datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Review(Base):
    """A QA correction; kept as a labelled example for `callintel train`. ``reviewer`` is the
    name of the API key that made it; ``complete`` marks a finished review (else a draft of
    corrections, which apply all the same)."""

    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), default=None)
    corrections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reviewer: Mapped[str] = mapped_column(String(200), default="")
    complete: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookSubscription(Base):
    """Where a dealer's events are POSTed. The secret signs each delivery (HMAC-SHA256), so it
    is kept as given, not hashed: the service must be able to compute the signature."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealers.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Event(Base):
    """The outbox: written in the same transaction as the result it announces."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealers.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), default=None, index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    # The customer (internal id) the event is about: deliveries keep its order per customer.
    customer_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event to one subscription. ``ordering_key`` (the customer, else the call) with
    ``event_seq`` lets the dispatcher send a customer's events in order; ``pending`` rows are
    due at ``next_attempt_at``, which a dispatcher pushes forward while it holds one."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_order", "subscription_id", "ordering_key", "event_seq"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    ordering_key: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ScorecardRecord(Base):
    """A scorecard edited through the API (``PUT /v1/scorecards/{scenario}``); it replaces the
    file's for that scenario. ``document`` is the scorecard as its YAML file would hold it."""

    __tablename__ = "scorecards"

    scenario: Mapped[str] = mapped_column(String(32), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
