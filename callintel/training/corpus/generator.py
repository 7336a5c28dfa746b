"""The dialogue generator: plan a call (scenario, grade, customer facts), then voice it from a phrase bank.

Labels come from the plan, never from parsing the text: the generator knows which checkpoint each
sales sentence realises and which attribute value each customer piece carries.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cn2an

from callintel.domain import (
    BODY_TYPES,
    CONCERNS,
    GRADE_MAX_DAYS,
    GRADES,
    POWERTRAINS,
    USAGES,
    VIOLATIONS,
    grade_for_days,
)
from callintel.settings import Settings
from callintel.understand.normalize import CarSpec, Gazetteer

from .bank import LABELLED_SLOTS, Bank, Template, load_bank
from .render import Noise, Piece, render

Split = Literal["train", "heldout"]

GRADE_WEIGHTS = {"H": 0.15, "A": 0.2, "B": 0.22, "C": 0.22, "N": 0.21}
VIOLATION_RATE = 0.2
DEFAULT_DATE_RANGE = (dt.date(2025, 1, 1), dt.date(2026, 12, 31))

# Scenario flows: (checkpoint, probability the step is present).
FLOWS: dict[str, list[tuple[str, float]]] = {
    "showroom": [
        ("greeting", 0.97),
        ("needs_discovery", 1.0),
        ("product_presentation", 0.9),
        ("objection_handling", 0.8),
        ("test_drive_invite", 0.75),
        ("offer_and_finance", 0.85),
        ("contact_capture", 0.75),
        ("closing_commitment", 0.85),
        ("follow_up_plan", 0.8),
    ],
    "inbound_call": [
        ("greeting", 0.97),
        ("needs_discovery", 1.0),
        ("product_presentation", 0.5),
        ("offer_and_finance", 0.85),
        ("objection_handling", 0.6),
        ("test_drive_invite", 0.6),
        ("contact_capture", 0.85),
        ("closing_commitment", 0.8),
        ("follow_up_plan", 0.8),
    ],
    # An outbound follow-up invites the lead to the store; there is no walkaround.
    "outbound_followup": [
        ("greeting", 0.97),
        ("needs_discovery", 0.9),
        ("offer_and_finance", 0.75),
        ("objection_handling", 0.6),
        ("test_drive_invite", 0.5),
        ("closing_commitment", 0.9),
        ("contact_capture", 0.6),
        ("follow_up_plan", 0.85),
    ],
}
MERGEABLE = {
    ("greeting", "needs_discovery"),
    ("product_presentation", "test_drive_invite"),
    ("objection_handling", "test_drive_invite"),
    ("objection_handling", "offer_and_finance"),
    ("offer_and_finance", "closing_commitment"),
    ("closing_commitment", "contact_capture"),
    ("contact_capture", "follow_up_plan"),
    ("closing_commitment", "follow_up_plan"),
    ("test_drive_invite", "offer_and_finance"),
}
# Where a customer fact is said by preference (the reply to which sales step).
PREFERRED_STEP = {
    "model": "needs_discovery",
    "budget": "needs_discovery",
    "usage": "needs_discovery",
    "household": "needs_discovery",
    "body_type": "needs_discovery",
    "powertrain": "needs_discovery",
    "competitor": "objection_handling",
    "concern": "product_presentation",
    "payment": "offer_and_finance",
    "trade_in": "offer_and_finance",
    "no_trade_in": "offer_and_finance",
    "timeline": "closing_commitment",
}
VIOLATION_HOSTS = {
    "forbidden_promise": (
        "offer_and_finance",
        "objection_handling",
        "product_presentation",
        "closing_commitment",
    ),
    "disparage_competitor": ("objection_handling", "product_presentation", "needs_discovery"),
    "rude": ("needs_discovery", "offer_and_finance", "objection_handling", "closing_commitment"),
    "pressure_tactic": ("closing_commitment", "offer_and_finance", "test_drive_invite"),
}
POSITIVE_POOLS = {"signal_H", "signal_A", "signal_B", "accept_test_drive", "timeline_soon"}
NEGATIVE_POOLS = {"signal_N", "decline_contact", "timeline_far", "react_negative"}


@dataclass
class _Fact:
    slot: str
    piece: Piece


@dataclass
class _Plan:
    lang: str
    scenario: str
    grade: str
    call_date: dt.date
    model: CarSpec
    competitor: CarSpec | None
    facts: list[_Fact] = field(default_factory=list)
    payment: str | None = None
    powertrain: str | None = None
    body_type: str | None = None
    concerns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Brand:
    """A brand of the gazetteer with its models, in the file's order (what a plan draws from)."""

    name: str
    models: tuple[CarSpec, ...]


def _brands(gazetteer: Gazetteer) -> tuple[_Brand, ...]:
    brands = tuple(
        _Brand(name, tuple(s for s in gazetteer.specs if s.brand == name)) for name in gazetteer.brands()
    )
    if len(brands) < 2:
        raise ValueError(f"the car gazetteer needs at least two brands with models, found {len(brands)}")
    return brands


class _Voice:
    """Renders one dialogue's templates from a bank; holds the rng and the plain-slot context."""

    def __init__(self, bank: Bank, plan: _Plan, rng: random.Random, brands: tuple[_Brand, ...]) -> None:
        self.bank, self.plan, self.rng, self.brands = bank, plan, rng, brands
        lex, zh = bank.lexicon, plan.lang == "zh"
        m = plan.model
        self.ctx: dict[str, str] = {
            "agent": rng.choice(lex["agents"]),
            "brand": m.brand if zh else m.brand_en,
            "store": rng.choice(lex["stores"]).format(brand=m.brand if zh else m.brand_en),
            "cust": rng.choice(lex["customer_names"]),
            "day": rng.choice(lex["days"]),
            "model_plain": _display(m, zh),
            "competitor_plain": _display(plan.competitor or self._other_model(), zh),
            "price": self._price(),
            "discount": rng.choice(lex["discounts"]),
            "phone": "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9)),
            "feature": rng.choice(lex["features"]),
        }

    def _other_model(self) -> CarSpec:
        others = [b for b in self.brands if b.name != self.plan.model.brand]
        return self.rng.choice(self.rng.choice(others).models)

    def _price(self) -> str:
        lo, hi = self.plan.model.price_cny or (150000, 250000)
        p = self.rng.randrange(lo, hi + 1, 100) if hi > lo else lo
        if self.plan.lang == "zh":
            return f"{p / 10000:.2f}".rstrip("0").rstrip(".") + "万"
        return f"{p:,} yuan" if self.rng.random() < 0.5 else f"{round(p / 1000)}k"

    def plain(self, slot: str) -> str:
        rng, lex, p = self.rng, self.bank.lexicon, self.plan
        if slot in ("model", "competitor"):
            return self.ctx[slot + "_plain"]
        if slot in self.ctx:
            return self.ctx[slot]
        if slot == "powertrain_x":
            return rng.choice(lex["powertrain"][rng.choice([x for x in POWERTRAINS if x != p.powertrain])])
        if slot == "body_type_x":
            return rng.choice(lex["body_type"][rng.choice([x for x in BODY_TYPES if x != p.body_type])])
        if slot == "concern_x":
            return rng.choice(lex["concerns"][rng.choice([x for x in CONCERNS if x not in p.concerns])])
        raise ValueError(f"unknown template slot {{{slot}}}")

    def pieces(
        self, t: Template, facts: dict[str, _Fact] | None = None, customer: bool = False
    ) -> list[Piece]:
        out: list[Piece] = []
        for text, is_slot in t.parts:
            if not is_slot:
                out.append(Piece(text))
            elif customer and text in LABELLED_SLOTS:
                if facts is None or text not in facts:
                    raise ValueError(f"template {t.id} needs fact {text!r} that the plan lacks")
                out.append(facts[text].piece)
            else:
                out.append(Piece(self.plain(text)))
        return out


def _display(m: CarSpec, zh: bool) -> str:
    return f"{m.brand}{m.model}" if zh else f"{m.brand_en} {m.model}"


def _mention(m: CarSpec, zh: bool, rng: random.Random, brand_only: bool = False) -> str:
    """How a customer (and the ASR) says a model: canonical names, aliases and homophones."""
    if zh:
        brands = [m.brand] * 3 + list(m.brand_aliases) + ([m.brand_en] if rng.random() < 0.1 else [])
        names = [m.model] * 2 + list(m.aliases)
    else:
        ascii_aliases = [a for a in m.brand_aliases if a.isascii()]
        brands = [m.brand_en] * 3 + ascii_aliases
        names = [m.model] * 3 + [a for a in m.aliases if a.isascii()]
    b = rng.choice(brands)
    if brand_only:
        return b
    n = rng.choice(names)
    sep = " " if (not zh or (b[-1:].isascii() and n[:1].isascii()) or rng.random() < 0.25) else ""
    return f"{b}{sep}{n}"


def _days_until(rule: str, d: dt.date) -> int:
    if rule == "month_end":
        nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return (nxt - dt.timedelta(days=1) - d).days
    if rule == "week_end":
        return 6 - d.weekday() if d.weekday() < 6 else 7
    year = d.year
    if rule.startswith("+1-"):
        rule, year = rule[3:], d.year + 1
    month, day = (int(x) for x in rule.split("-"))
    target = dt.date(year, month, day)
    if target < d:
        target = dt.date(year + 1, month, day)
    return (target - d).days


def _grade_band(grade: str) -> tuple[int, int]:
    bounds = [0] + [v + 1 for v in GRADE_MAX_DAYS.values()]
    i = GRADES.index(grade)  # type: ignore[arg-type]
    return (bounds[i], GRADE_MAX_DAYS[GRADES[i]]) if grade != "N" else (bounds[-1], 10_000)


class _Dialogue:
    def __init__(self, bank: Bank, plan: _Plan, rng: random.Random, brands: tuple[_Brand, ...]) -> None:
        self.bank, self.plan, self.rng = bank, plan, rng
        self.voice = _Voice(bank, plan, rng, brands)
        self.zh = plan.lang == "zh"
        self.turns: list[dict[str, Any]] = []

    # ---- noise -------------------------------------------------------------------------------
    def _noise(self) -> Noise:
        r = self.rng.random
        if self.zh:
            return Noise(strip_punct=r() < 0.3, traditional=r() < 0.06, spaced=r() < 0.04)
        return Noise(strip_punct=r() < 0.3, lowercase=r() < 0.3)

    def _filler(self) -> Piece:
        f = self.rng.choice(self.bank.lexicon["fillers"])
        return Piece(f + ("，" if self.zh else ", "))

    def _join(self, sentences: list[list[Piece]], filler_p: float) -> list[Piece]:
        out: list[Piece] = []
        if self.rng.random() < filler_p:
            out.append(self._filler())
        for i, s in enumerate(sentences):
            if i:
                if self.zh:
                    out.append(Piece(self.rng.choice(["，", "，", "。", "，然后", "，就是说", " "])))
                else:
                    out.append(Piece(self.rng.choice([", ", ". ", ", and ", ", um, ", ". Uh, "])))
                s = self._lower_first(s) if not self.zh and out[-1].text.endswith(", ") else s
            out.extend(s)
        out.append(Piece(self.rng.choice(["。", "。", "", "！"] if self.zh else [".", ".", ""])))
        if out and not self.zh and out[0].text.endswith(", ") and out[0].key is None and len(out) > 1:
            out[1:] = self._lower_first(out[1:])
        return out

    @staticmethod
    def _lower_first(s: list[Piece]) -> list[Piece]:
        if not s or s[0].key is not None:
            return s
        t = s[0].text
        if len(t) > 1 and t[0].isupper() and t[1].islower() and not t.startswith(("I ", "I'")):
            return [Piece(t[0].lower() + t[1:])] + s[1:]
        return s

    # ---- turns -------------------------------------------------------------------------------
    def sales(self, kinds: list[str], violation: str | None = None) -> None:
        sentences: list[list[Piece]] = []
        checkpoints = []
        for k in kinds:
            t = self.rng.choice(self.bank.sales_templates(k, self.plan.scenario))
            sentences.append(self.voice.pieces(t))
            if k not in ("filler", "hard_negative"):
                checkpoints.append(k)
        if violation:
            t = self.rng.choice(self.bank.violations[violation])
            pos = self.rng.randrange(len(sentences) + 1)
            sentences.insert(pos, self.voice.pieces(t))
        text, _ = render(self._join(sentences, 0.12), self.plan.lang, self._noise())
        self.turns.append(
            {
                "role": "sales",
                "text": text,
                "checkpoints": checkpoints,
                "violations": [violation] if violation else [],
            }
        )

    def customer(self, pools: list[str], facts: list[_Fact]) -> None:
        sentences: list[list[Piece]] = []
        used_pools: list[str] = []
        remaining = list(facts)
        info = [t for k, ts in self.bank.customer.items() if k.startswith("info") for t in ts]
        while remaining:
            first = remaining[0].slot
            slots = [f.slot for f in remaining]
            cands = [
                t
                for t in info
                if first in t.labelled_slots
                and all(t.labelled_slots.count(s) <= slots.count(s) for s in t.slots)
            ]
            if not cands:
                raise ValueError(
                    f"{self.bank.split}/{self.bank.lang}: no customer template for slot {first!r}"
                )
            multi = [t for t in cands if len(t.labelled_slots) > 1]
            t = self.rng.choice(multi if multi and self.rng.random() < 0.5 else cands)
            by_slot: dict[str, _Fact] = {}
            for s in t.labelled_slots:
                f = next(f for f in remaining if f.slot == s)
                remaining.remove(f)
                by_slot[s] = f
            sentences.append(self.voice.pieces(t, by_slot, customer=True))
            used_pools.append("info")
        for pool in pools:
            t = self.rng.choice(self.bank.customer[pool])
            tf = None
            if t.labelled_slots:
                tf = {s: self._extra_fact(s) for s in t.labelled_slots}
            sentences.append(self.voice.pieces(t, tf, customer=True))
            used_pools.append(pool)
        order = list(range(len(sentences)))
        if len(order) > 1 and self.rng.random() < 0.3:
            self.rng.shuffle(order)
        sentences = [sentences[i] for i in order]
        text, spans = render(self._join(sentences, 0.35), self.plan.lang, self._noise())
        days = [s["value"] for s in spans if s["key"] == "purchase_timeline_days"]
        if days:
            g = grade_for_days(days[0])
            intent = "positive" if g in ("H", "A", "B") else "neutral" if g == "C" else "negative"
        elif any(p in POSITIVE_POOLS for p in used_pools):
            intent = "positive"
        elif any(p in NEGATIVE_POOLS for p in used_pools):
            intent = "negative"
        else:
            intent = "neutral"
        self.turns.append({"role": "customer", "text": text, "attributes": spans, "intent_signal": intent})

    def _extra_fact(self, slot: str) -> _Fact:
        """Facts carried by non-info pools (the timeline of a grade signal)."""
        for f in self.plan.facts:
            if f.slot == slot:
                return f
        raise ValueError(f"plan has no fact {slot!r}")


class _Planner:
    def __init__(self, bank: Bank, brands: tuple[_Brand, ...], rng: random.Random) -> None:
        self.bank, self.brands, self.rng = bank, brands, rng
        self.lex = bank.lexicon

    def plan(self, lang: str, scenario: str, grade: str, call_date: dt.date) -> _Plan:
        rng, lex, zh = self.rng, self.lex, lang == "zh"
        brand = rng.choice(self.brands)
        model = rng.choice(brand.models)
        others = [b for b in self.brands if b.name != brand.name]
        comp_brand = rng.choice(others)
        competitor = rng.choice(comp_brand.models)
        p = _Plan(lang, scenario, grade, call_date, model, competitor)
        facts = p.facts
        facts.append(_Fact("model", Piece(_mention(model, zh, rng), "models_of_interest", model.canonical)))
        if rng.random() < 0.55:
            if rng.random() < 0.3:
                facts.append(
                    _Fact(
                        "competitor",
                        Piece(_mention(competitor, zh, rng, True), "competitors", comp_brand.name),
                    )
                )
            else:
                facts.append(
                    _Fact(
                        "competitor",
                        Piece(_mention(competitor, zh, rng), "competitors", competitor.canonical),
                    )
                )
        if rng.random() < 0.75:
            facts.append(_Fact("budget", self._budget(model, zh)))
        if rng.random() < 0.55:
            p.payment = rng.choices(["full", "loan", "lease"], [0.45, 0.45, 0.1])[0]
            facts.append(_Fact("payment", Piece(rng.choice(lex["payment"][p.payment]), "payment", p.payment)))
        if rng.random() < 0.5:
            if rng.random() < 0.6:
                facts.append(_Fact("trade_in", Piece(rng.choice(lex["trade_in"]), "trade_in", True)))
            else:
                facts.append(_Fact("no_trade_in", Piece(rng.choice(lex["no_trade_in"]), "trade_in", False)))
        if rng.random() < 0.4:
            p.powertrain = model.powertrain if model.powertrain in POWERTRAINS else rng.choice(POWERTRAINS)
            facts.append(
                _Fact(
                    "powertrain",
                    Piece(rng.choice(lex["powertrain"][p.powertrain]), "powertrain", p.powertrain),
                )
            )
        if rng.random() < 0.4:
            p.body_type = model.body_type if model.body_type in BODY_TYPES else rng.choice(BODY_TYPES)
            facts.append(
                _Fact("body_type", Piece(rng.choice(lex["body_type"][p.body_type]), "body_type", p.body_type))
            )
        if rng.random() < 0.6:
            for u in rng.sample(USAGES, rng.choice([1, 1, 2])):
                facts.append(_Fact("usage", Piece(rng.choice(lex["usage"][u]), "usage", u)))
        if rng.random() < 0.4:
            h = rng.choice(lex["household"])
            facts.append(_Fact("household", Piece(h["text"], "household", h["value"])))
        if rng.random() < 0.7:
            p.concerns = rng.sample(CONCERNS, rng.choice([1, 1, 2]))
            for c in p.concerns:
                facts.append(_Fact("concern", Piece(rng.choice(lex["concerns"][c]), "concerns", c)))
        if rng.random() < (0.35 if grade == "N" else 0.8):
            tl = self._timeline(grade, call_date)
            if tl is not None:
                facts.append(_Fact("timeline", tl))
        return p

    def _budget(self, model: CarSpec, zh: bool) -> Piece:
        rng, lex = self.rng, self.lex
        lo, hi = model.price_cny or (100000, 300000)
        wan = max(3, round(rng.uniform(lo, hi) / 10000))
        if wan > 40:
            wan = round(wan / 5) * 5
        kind = rng.choices(["about", "range", "cap"], [0.55, 0.3, 0.15])[0]
        if kind == "about":
            value: dict[str, int | None] = {"min": round(wan * 9000), "max": round(wan * 11000)}
            a, b = wan, wan
        elif kind == "range":
            a = max(3, wan - rng.choice([2, 3, 5]))
            b = wan + rng.choice([0, 2, 5])
            if b <= a:
                b = a + 3
            value = {"min": a * 10000, "max": b * 10000}
        else:
            a = b = wan
            value = {"min": None, "max": wan * 10000}  # open below, as the normaliser reads it
        tmpl = rng.choice(lex[f"budget_{kind}"])
        text = tmpl.format(n=self._num(a, zh, tmpl), a=self._num(a, zh, tmpl), b=self._num(b, zh, tmpl))
        if zh and "万" in text and rng.random() < 0.15 and text.count("万") == 1:
            text = text.replace("万", rng.choice(["w", "W", "个w"]))
        return Piece(text, "budget_cny", value)

    def _num(self, wan: int, zh: bool, tmpl: str) -> str:
        if zh:
            return cn2an.an2cn(wan) if self.rng.random() < 0.45 else str(wan)
        k = wan * 10
        if "thousand" in tmpl and k < 1000 and self.rng.random() < 0.5:
            return _en_words(k)
        return str(k)

    def _timeline(self, grade: str, d: dt.date) -> Piece | None:
        lo, hi = _grade_band(grade)
        cands = []
        for e in self.lex["timeline"]:
            days = int(e["days"]) if "days" in e else _days_until(str(e["until"]), d)
            if lo <= days <= hi:
                cands.append((str(e["text"]), days))
        if not cands:
            return None
        text, days = self.rng.choice(cands)
        return Piece(text, "purchase_timeline_days", days)


_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen \
seventeen eighteen nineteen".split()
)
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _en_words(n: int) -> str:
    """English words for 0 < n < 1000."""
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        parts.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n:
        parts.append(_ONES[n])
    return " ".join(parts)


def _build(bank: Bank, plan: _Plan, rng: random.Random, brands: tuple[_Brand, ...]) -> list[dict[str, Any]]:
    dlg = _Dialogue(bank, plan, rng, brands)
    steps = [k for k, p in FLOWS[plan.scenario] if rng.random() < p]
    if not plan.concerns and "objection_handling" in steps:
        # An objection needs a concern to answer: give the customer one.
        c = rng.choice(CONCERNS)
        plan.concerns = [c]
        plan.facts.append(_Fact("concern", Piece(rng.choice(bank.lexicon["concerns"][c]), "concerns", c)))
    # Group steps into sales turns, some realising two checkpoints.
    groups: list[list[str]] = []
    for s in steps:
        if groups and len(groups[-1]) == 1 and (groups[-1][0], s) in MERGEABLE and rng.random() < 0.2:
            groups[-1].append(s)
        else:
            groups.append([s])
    # Assign facts to the reply after the group holding their preferred step.
    step_group = {s: i for i, g in enumerate(groups) for s in g}
    info_groups = [i for i, g in enumerate(groups) if "greeting" not in g or len(g) > 1] or [0]
    assigned: dict[int, list[_Fact]] = {}
    timeline_fact = next((f for f in plan.facts if f.slot == "timeline"), None)
    closing = step_group.get("closing_commitment")
    for f in plan.facts:
        if f is timeline_fact and closing is not None:
            continue  # voiced with the grade signal
        pref = PREFERRED_STEP[f.slot]
        if plan.scenario != "showroom" and f.slot == "model" and rng.random() < 0.6:
            pref = "greeting"
        if f.slot == "competitor" and rng.random() < 0.5:
            pref = "needs_discovery"
        gi = step_group.get(pref)
        if gi is None:
            gi = step_group.get("needs_discovery", info_groups[0])
        assigned.setdefault(gi, []).append(f)
    violation = rng.choice(VIOLATIONS) if rng.random() < VIOLATION_RATE else None
    v_group = None
    if violation:
        hosts = [i for i, g in enumerate(groups) if any(s in VIOLATION_HOSTS[violation] for s in g)]
        v_group = rng.choice(hosts) if hosts and rng.random() < 0.6 else -1
    grade = plan.grade
    extra_filler = rng.random() < 0.5
    extra_hard = rng.random() < 0.4
    for gi, g in enumerate(groups):
        if v_group == -1 and gi == len(groups) // 2:
            dlg.sales(["filler"] if rng.random() < 0.3 else [], violation)
            dlg.customer([rng.choice(["react_negative", "ack"])], [])
        if extra_filler and gi == 2:
            dlg.sales(["filler"])
            dlg.customer(["ack"], [])
        if extra_hard and gi == len(groups) - 2:
            dlg.sales(["hard_negative"])
            dlg.customer([rng.choice(["ack", "ask_price"])], [])
        dlg.sales(g, violation if v_group == gi else None)
        pools: list[str] = []
        for s in g:
            if s == "greeting":
                pools.append("greet_back")
                if grade == "N" and rng.random() < 0.4:
                    pools.append("signal_N")
            elif s == "test_drive_invite":
                decline = {"H": 0.1, "A": 0.15, "B": 0.2, "C": 0.4, "N": 0.65}[grade]
                pools.append("decline_test_drive" if rng.random() < decline else "accept_test_drive")
            elif s == "contact_capture":
                pools.append("decline_contact" if grade == "N" and rng.random() < 0.4 else "give_contact")
            elif s == "closing_commitment":
                if timeline_fact is not None:
                    pools.append(
                        {"H": "timeline_soon", "A": "timeline_soon", "B": "timeline_soon"}.get(
                            grade, "timeline_later" if grade == "C" else "timeline_far"
                        )
                    )
                if timeline_fact is None or rng.random() < 0.6:
                    pools.append(f"signal_{grade}")
            elif s == "follow_up_plan":
                pools.append("goodbye")
            elif s == "offer_and_finance" and grade == "H" and rng.random() < 0.4:
                pools.append("signal_H")
            elif s == "product_presentation" and rng.random() < 0.25:
                pools.append("ask_price")
        facts = assigned.get(gi, [])
        if "offer_and_finance" in g and rng.random() < 0.25 and plan.payment != "loan":
            pools.append("negation")
        if not pools and not facts:
            pools.append("ack")
        dlg.customer(pools, facts)
    if closing is None:
        # No closing step: the customer still shows where they stand.
        dlg.sales(["filler"])
        dlg.customer([f"signal_{grade}"], [])
    return dlg.turns


def generate(
    split: Split,
    n: int,
    seed: int = 0,
    languages: Sequence[str] = ("zh", "en"),
    call_date_range: tuple[dt.date, dt.date] = DEFAULT_DATE_RANGE,
    gazetteer: str | Path | Gazetteer | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` labelled dialogues in the ``docs/corpus.md`` format, the same ones for the same seed.

    Args:
        split: ``train`` or ``heldout``; each draws from its own templates and phrase banks.
        n: how many dialogues.
        seed: the random seed.
        languages: any of ``zh``, ``en``; with both, about 2/3 are Mandarin.
        call_date_range: first and last call date (inclusive).
        gazetteer: the car gazetteer, or a path to a cars.yaml (default: the one in the configured
            models directory, ``CALLINTEL_MODELS_DIR`` or ``models/gazetteer/cars.yaml``).
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"unknown split {split!r}; valid: train, heldout")
    langs = list(languages)
    bad = [lang for lang in langs if lang not in ("zh", "en")]
    if bad or not langs:
        raise ValueError(f"unknown languages {bad or langs!r}; valid: zh, en")
    if not isinstance(gazetteer, Gazetteer):
        # The configured models dir: a source checkout's models/, or the copy a wheel carries.
        if gazetteer is None:
            gazetteer = Gazetteer.from_models_dir(Settings.from_env().models_dir)
        else:
            gazetteer = Gazetteer.load(gazetteer)
    brands = _brands(gazetteer)
    banks = {lang: load_bank(split, lang) for lang in langs}
    first, last = call_date_range
    span = (last - first).days
    weights = [2.0 if lang == "zh" else 1.0 for lang in langs]
    for i in range(n):
        rng = random.Random(f"{split}:{seed}:{i}")
        lang = rng.choices(langs, weights)[0]
        scenario = rng.choices(["showroom", "inbound_call", "outbound_followup"], [0.45, 0.25, 0.3])[0]
        grade = rng.choices(list(GRADE_WEIGHTS), list(GRADE_WEIGHTS.values()))[0]
        call_date = first + dt.timedelta(days=rng.randint(0, span))
        bank = banks[lang]
        plan = _Planner(bank, brands, rng).plan(lang, scenario, grade, call_date)
        turns = _build(bank, plan, rng, brands)
        yield {
            "id": f"{lang}-{scenario}-{split}{seed}-{i:06d}",
            "language": lang,
            "scenario": scenario,
            "call_date": call_date.isoformat(),
            "grade": grade,
            "source": f"generator:{split}",
            "turns": turns,
        }
