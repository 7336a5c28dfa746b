"""The label names of the corpus, taken from DOMAIN.md. Everyone imports them from here."""

from __future__ import annotations

from typing import Final

CHECKPOINTS: Final[tuple[str, ...]] = (
    "greeting",
    "needs_discovery",
    "product_presentation",
    "test_drive_invite",
    "offer_and_finance",
    "objection_handling",
    "contact_capture",
    "closing_commitment",
    "follow_up_plan",
)
VIOLATIONS: Final[tuple[str, ...]] = (
    "forbidden_promise",
    "disparage_competitor",
    "rude",
    "pressure_tactic",
)
ATTRIBUTES: Final[tuple[str, ...]] = (
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
)
GRADES: Final[tuple[str, ...]] = ("H", "A", "B", "C", "N")
SCENARIOS: Final[tuple[str, ...]] = ("showroom", "inbound_call", "outbound_followup")
ROLES: Final[tuple[str, ...]] = ("sales", "customer")
LANGUAGES: Final[tuple[str, ...]] = ("zh", "en")
INTENT_SIGNALS: Final[tuple[str, ...]] = ("positive", "neutral", "negative")

PAYMENTS: Final[tuple[str, ...]] = ("full", "loan", "lease")
POWERTRAINS: Final[tuple[str, ...]] = ("ev", "phev", "erev", "hybrid", "ice")
BODY_TYPES: Final[tuple[str, ...]] = ("suv", "sedan", "mpv", "hatchback", "wagon")
USAGES: Final[tuple[str, ...]] = ("commute", "family", "long_distance", "business", "ride_hailing", "leisure")
CONCERNS: Final[tuple[str, ...]] = (
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
)

# Upper bound (inclusive) of purchase_timeline_days for each grade; N is anything later or no intent.
GRADE_MAX_DAYS: Final[dict[str, int]] = {"H": 7, "A": 15, "B": 30, "C": 120}


def grade_for_days(days: int) -> str:
    """The grade a stated purchase timeline implies (H ≤7, A ≤15, B ≤30, C ≤120 days, else N)."""
    for grade, limit in GRADE_MAX_DAYS.items():
        if days <= limit:
            return grade
    return "N"
