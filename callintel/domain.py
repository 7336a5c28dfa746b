"""The domain's taxonomy, from DOMAIN.md: every other module imports its names from here.

Each list is a ``Literal`` type (for signatures, pydantic models and the JSON Schema) and the
tuple of its values, in DOMAIN.md's order (for iteration and validation).
"""

from __future__ import annotations

from typing import Final, Literal, TypeVar, get_args

Checkpoint = Literal[
    "greeting",
    "needs_discovery",
    "product_presentation",
    "test_drive_invite",
    "offer_and_finance",
    "objection_handling",
    "contact_capture",
    "closing_commitment",
    "follow_up_plan",
]
Violation = Literal["forbidden_promise", "disparage_competitor", "rude", "pressure_tactic"]
Attribute = Literal[
    "budget_cny",
    "models_of_interest",
    "competitors",
    "purchase_timeline_days",
    "payment",
    "trade_in",
    "powertrain",
    "body_type",
    "usage",
    "household",
    "concerns",
]
Grade = Literal["H", "A", "B", "C", "N"]
# service_call: an after-sales call (售后来电: a service light, a repair, a maintenance booking),
# scored on the dealer's own checkpoints; it is no sale, so it gives no purchase grade (issue 17).
Scenario = Literal["showroom", "inbound_call", "outbound_followup", "service_call"]
Role = Literal["sales", "customer"]
Language = Literal["zh", "en"]
IntentSignal = Literal["positive", "neutral", "negative"]
Payment = Literal["full", "loan", "lease"]
Powertrain = Literal["ev", "phev", "erev", "hybrid", "ice"]
BodyType = Literal["suv", "sedan", "mpv", "hatchback", "wagon"]
Usage = Literal["commute", "family", "long_distance", "business", "ride_hailing", "leisure"]
Concern = Literal[
    "price",
    "range",
    "charging",
    "space",
    "safety",
    "maintenance",
    "resale",
    "delivery_time",
    "reliability",
    "fuel_economy",
    "comfort",
    "performance",
    "smart_features",
    "financing",
    "trade_in_value",
    "insurance",
]

_Name = TypeVar("_Name", bound=str)

CHECKPOINTS: Final[tuple[Checkpoint, ...]] = get_args(Checkpoint)
VIOLATIONS: Final[tuple[Violation, ...]] = get_args(Violation)
ATTRIBUTES: Final[tuple[Attribute, ...]] = get_args(Attribute)
GRADES: Final[tuple[Grade, ...]] = get_args(Grade)
SCENARIOS: Final[tuple[Scenario, ...]] = get_args(Scenario)
ROLES: Final[tuple[Role, ...]] = get_args(Role)
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
INTENT_SIGNALS: Final[tuple[IntentSignal, ...]] = get_args(IntentSignal)
PAYMENTS: Final[tuple[Payment, ...]] = get_args(Payment)
POWERTRAINS: Final[tuple[Powertrain, ...]] = get_args(Powertrain)
BODY_TYPES: Final[tuple[BodyType, ...]] = get_args(BodyType)
USAGES: Final[tuple[Usage, ...]] = get_args(Usage)
CONCERNS: Final[tuple[Concern, ...]] = get_args(Concern)

NO_PURCHASE_GRADE: Final[frozenset[Scenario]] = frozenset({"service_call"})
"""Scenarios that are no sale: their calls get no purchase-intent grade, no intent tags."""


def gives_purchase_grade(scenario: str) -> bool:
    """Whether a call of ``scenario`` is graded H/A/B/C/N (an after-sales call is not)."""
    return scenario not in NO_PURCHASE_GRADE


# Upper bound (inclusive) of purchase_timeline_days for each grade; N is anything later or no intent.
GRADE_MAX_DAYS: Final[dict[Grade, int]] = {"H": 7, "A": 15, "B": 30, "C": 120}


def grade_for_days(days: int) -> Grade:
    """The grade a stated purchase timeline implies (H ≤7, A ≤15, B ≤30, C ≤120 days, else N)."""
    for grade, limit in GRADE_MAX_DAYS.items():
        if days <= limit:
            return grade
    return "N"


def one_of(value: str, choices: tuple[_Name, ...], what: str) -> _Name:
    """``value`` as one of ``choices`` (typed as they are); a ``ValueError`` naming the valid
    choices when it is none of them."""
    for choice in choices:
        if value == choice:
            return choice
    raise ValueError(f"{value!r} is not a {what}; valid: {', '.join(choices)}")


def as_grade(label: str) -> Grade:
    """``label`` as a :data:`Grade` (``ValueError`` when it is not one)."""
    return one_of(label, GRADES, "grade")


# The service's states (callintel.store): a call's, and the analysis job's that the queue holds
# for it (``callintel.store.jobs``). A call is ``processing`` while its job is ``running``.
CallStatus = Literal["queued", "processing", "done", "failed"]
JobStatus = Literal["queued", "running", "done", "failed"]
CALL_STATUSES: Final[tuple[CallStatus, ...]] = get_args(CallStatus)
JOB_STATUSES: Final[tuple[JobStatus, ...]] = get_args(JobStatus)
