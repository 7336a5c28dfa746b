"""The API's own request and response shapes: bodies, and answers that are not a stored value as
the store gives it (a subscription answered with its secret once, a scorecard with its source).
What the store answers as it is (a call, a journey, pass rates, a review) is its own type."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from callintel.domain import Grade, Scenario
from callintel.store.events import EVENT_TYPES
from callintel.store.subscriptions import DeliveryStatus
from callintel.understand.scoring import Scorecard

EventType = Literal["call.analyzed", "customer.tags_changed", "call.failed", "call.reviewed"]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]


_BOUND = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}
_CORRECTED_VALUES = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [
            {"type": "object", "properties": {"min": _BOUND, "max": _BOUND}, "required": ["min", "max"]},
            {"type": "boolean"},
            {"type": "integer", "minimum": 0},
            {"type": "string"},
            {"type": "null"},
        ]
    },
}


class ReviewIn(BaseModel):
    """QA corrections; every part optional. They apply at once (QA's word is final: the call's
    result, its customer's journey, the events); stored as a labelled example for training."""

    model_config = {"extra": "forbid"}

    checkpoints: dict[str, bool] = Field(default_factory=dict, description="checkpoint -> passed")
    violations: dict[str, bool] = Field(default_factory=dict, description="violation -> committed")
    # Checked by the store (Corrections.parse), whose messages name the attribute and its valid
    # values; the schema documents the forms a value may take.
    attributes: Annotated[dict[str, Any], WithJsonSchema(_CORRECTED_VALUES)] = Field(
        default_factory=dict,
        description="attribute -> corrected value in DOMAIN.md's form; null: the customer did not say it",
    )
    grade: Grade | None = None
    swap_roles: bool = False
    note: str = Field(default="", max_length=2000, description="The reviewer's comment (optional).")
    complete: bool = Field(
        default=False,
        description="The review is complete; false: a draft of corrections, which apply all the same.",
    )


class ScorecardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scenario: Scenario
    source: Literal["file", "api"] = Field(description="The shipped file, or an edit through this API.")
    document: dict[str, Any] = Field(description="The scorecard as its YAML file holds it.")
    effective: Scorecard = Field(description="As the service uses it: defaults filled, lexicon cues merged.")
    updated_at: dt.datetime | None = None


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dealer: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(min_length=8, max_length=2000, description="http(s) URL that receives the POSTs.")
    events: list[EventType] = Field(default_factory=list, description="Event types; empty: all of them.")
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="Signing secret (16+ characters); generated when left out. Shown only in this answer.",
    )
    description: str = Field(default="", max_length=200)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the URL must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise ValueError("put no credentials in the URL: the signature authenticates deliveries")
        if any(ord(c) < 33 for c in url):
            raise ValueError("the URL contains spaces or control characters")
        return url


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    dealer_id: str
    url: str
    events: list[EventType]
    active: bool
    description: str
    created_at: dt.datetime
    secret: str | None = Field(default=None, description="Only in the answer that created it.")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: str
    event_seq: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class Replayed(BaseModel):
    replayed: int = Field(description="How many deliveries were put back in the queue.")


class EventOut(BaseModel):
    id: str
    seq: int
    type: EventType
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    dealer_id: str
    data: dict[str, Any] = Field(description="The event's payload, by type: see docs/webhooks.md.")


class EventPage(BaseModel):
    items: list[EventOut]
    next_after: int = Field(description="Pass as `after` to get the next page (unchanged when empty).")


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
