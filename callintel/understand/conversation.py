"""Attributes read from the conversation, not from one turn alone (issue 14).

A number or a car name means what the conversation makes of it. The question the salesperson
asked decides what a number in the answer is (a budget, a trade-in value, an instalment, a
salary), and who owns a car decides where it goes (the car the customer drives now is no model
of interest; a car of another make they look at is a competitor). The turn-level tagger, trained
on generated dialogues, cannot see that; these readers work on the whole call with the
normaliser and the gazetteer:

- :func:`read_budget`: the customer's amounts in clauses that state a budget (预算, 以内, under,
  "our number") or that answer the salesperson's budget question, never in clauses about a
  trade-in, a deposit, an instalment, a salary or a price the salesperson quoted;
- :func:`read_cars`: every car named in the call, sorted into the customer's current car
  (dropped), models of interest (the dealer's make, or what the customer asks for) and
  competitors (other makes the customer compares or looks at).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from callintel.understand.normalize import Gazetteer, normalize_budget, normalize_timeline


class Turn(Protocol):
    """A turn as the readers need it (``CallTurn`` is one)."""

    @property
    def role(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Said:
    """A value read from the conversation and the turn and words it was read from."""

    value: Any
    turn: int
    text: str
    confidence: float


# --- Budget ---------------------------------------------------------------------------------

_CLAUSE = re.compile(r"(?:[^，。！？；!?;\n—.]|\.(?!\s|$))+")
_SPACE_CLAUSE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_BUDGET_CUE = re.compile(
    r"预算|价位|心理价|心里价|价格区间|打算花|准备花|想花|能花|控制在|以内|之内|不超|别超|不能超|最多|顶多|"
    r"能拿出|拿得出|掏得出|手上(大概|有|就)?|能接受|接受的|准备了|攒了|存了|"
    r"多一分|说好了|budget|price range|(?<![a-z])spend|(?<![a-z])(stay|keep it|come in) (under|below)|"
    r"our (number|limit|max)|my (number|limit|max)|hard number|(?<![a-z])tops(?![a-z])|no more than|"
    r"(?<![a-z])under (\w+ )?(grand|thousand|\d)|(?<![a-z])max(imum)?(?![a-z])|go (much )?past|ceiling|"
    r"afford|within what|hoping for|(?<![a-z])out the door|drive ?away|total should be|"
    r"(?<![a-z])i.?ve got (about |around |something like |maybe |roughly |between )?[^,.]{0,25}"
    r"(grand|k|thousand)",
    re.IGNORECASE,
)
# Weaker: an amount said roughly by the customer is most often what they mean to spend.
_BUDGET_HINT = re.compile(
    r"左右|上下|来万|落地就|全款就|(?<![a-z])around|(?<![a-z])about|ish(?![a-z])", re.IGNORECASE
)
_BUDGET_QUESTION = re.compile(
    r"预算|价位|心理价|心里价|多少钱的车|打算花|准备花|想花|价格区间|budget|price range|spend|in mind|"
    r"looking to pay|ballpark",
    re.IGNORECASE,
)
# What an amount is when it is not a budget: a trade-in, a deposit or instalment, pay, a quote.
_NOT_BUDGET = re.compile(
    r"月供|每个?月|首付|定金|订金|工资|收入|月薪|年薪|评估|估价|卖|收(?!入)|置换|抵|补贴|优惠|降价|便宜|"
    r"贵|报价|报了|给我报|租金|油钱|电费|公里|"
    r"month|(?<![a-z])down(?![a-z])|deposit|trade|part[- ]?ex|for (it|the|my|our)\b|salary|"
    r"(?<![a-z])pay(ment)?(?![a-z])|paid|worth|valu|miles|(?<![a-z])km|on it|cheaper|quote|cash ?back|"
    r"(?<![a-z])off(?![a-z])",
    re.IGNORECASE,
)
# A salesperson's turn on something else than the budget: an answer with an amount is about it,
# unless the customer names their budget outright.
_OTHER_TOPIC = re.compile(
    r"评估|估价|置换|旧车|月供|首付|工资|收入|trade|part[- ]?ex|apprais|valu|monthly|a month|down payment|"
    r"deposit|salary|want for",
    re.IGNORECASE,
)
_OUTRIGHT = re.compile(r"预算|budget|price range|(?<![a-z])spend", re.IGNORECASE)
_CAR_CODE = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z]+\s?\d+[A-Za-z+]*|\d+[A-Za-z]+\+?)(?![A-Za-z0-9])")


_LATIN_COMMA = re.compile(r"(?<=[A-Za-z0-9']),\s+(?=[A-Za-z])")


def _clauses(text: str, commas: bool = False) -> list[str]:
    # Raw ASR has no punctuation: a space between Chinese characters ends a clause too; with
    # ``commas``, so does a comma in English ("about 340k to spend, um, and the trade-in...").
    parts = [c for part in _CLAUSE.findall(text) for c in _SPACE_CLAUSE.split(part)]
    if commas:
        parts = [c for part in parts for c in _LATIN_COMMA.split(part)]
    return [c.strip() for c in parts if c.strip()]


def read_budget(turns: Sequence[Turn]) -> Said | None:
    """The customer's budget (``{"min", "max"}``, an open lower end as 0), or None.

    A clause of a customer turn counts when it names an amount and is not about something
    else (a trade-in, a deposit, an instalment, a salary, a quote, an echo of the price the
    salesperson just gave), and when it states a budget itself, or its turn does, or the turn
    answers the salesperson's question about one. The strongest of those wins, then the latest.
    """
    found: list[tuple[int, int, str, Any]] = []
    for index, turn in enumerate(turns):
        if turn.role != "customer":
            continue
        previous = turns[index - 1] if index > 0 and turns[index - 1].role == "sales" else None
        asked = previous is not None and bool(_BUDGET_QUESTION.search(previous.text))
        elsewhere = previous is not None and bool(_OTHER_TOPIC.search(previous.text))
        quoted = {_amount(c) for c in _clauses(previous.text)} if previous is not None else set()
        stated = bool(_BUDGET_CUE.search(turn.text))
        rough = bool(_BUDGET_HINT.search(turn.text))
        for clause in _clauses(turn.text, commas=True):
            if _NOT_BUDGET.search(clause) or (elsewhere and not _OUTRIGHT.search(clause)):
                continue
            amount = _amount(clause)
            if amount is None or amount in quoted:
                continue
            if _BUDGET_CUE.search(clause):
                strength = 3
            elif stated or asked or (rough and _BUDGET_HINT.search(clause)):
                strength = 2 if stated or asked else 1
            else:
                continue
            low, high = amount
            found.append((strength, index, clause, {"min": low or 0, "max": high}))
    return _strongest(found)


def _strongest(found: Sequence[tuple[int, int, str, Any]]) -> Said | None:
    """The reading of the greatest strength (1-3) from ``(strength, turn, clause, value)``,
    the latest on a tie: people correct themselves."""
    if not found:
        return None
    strength, index, clause, value = max(reversed(found), key=lambda f: (f[0], f[1]))
    return Said(value, index, clause, (0.6, 0.75, 0.9)[strength - 1])


def _amount(clause: str) -> tuple[int | None, int | None] | None:
    return normalize_budget(_CAR_CODE.sub(" ", clause))


# --- Cars -----------------------------------------------------------------------------------

# A clause that speaks of the customer's own car: drives it now, has had it for years, trades it.
_OWNED = re.compile(
    r"现在开|目前开|开的是|现在的车|我(的|那|这)(台|辆|部)?|我们?家(的|那|这)?(台|辆|部)|家里(的|那|这)(台|辆|部)?|"
    r"旧车|老车|开了[^，。]{0,6}年|跑了[^，。]{0,6}公里|[0-9一二三四五六七八九十]+年的|(?<![0-9])(19|20)[0-9]{2}(?![0-9])|"
    r"(?<![a-z])(my|our) (old |current |wife'?s |husband'?s )?|"
    r"(?<![a-z])(drive|driving|drives|have|got|own) (a|an|the) |"
    r"trad(e|ing) (in )?(the|my|our|it)|part[- ]?ex|"
    r"(儿子|女儿|老婆|老公|爱人|媳妇|爸|妈|父母|以前)((的|那|这)(台|辆|部)?|(台|辆|部))|(年|月)前(刚)?买|才买|"
    r"去年(才)?买|刚换|"
    r"bought (it|one|ours|mine)? ?(last year|\w+ years? ago)",
    re.IGNORECASE,
)
# The customer says they will not buy (now): no model of interest unless they name one.
_DECLINES = re.compile(
    r"不买|已经[^，。]{0,8}(买|提|订)了|买过了|提了|没打算|不考虑|不换|不需要|没说要买|"
    r"not (buying|interested|looking)(?! (anything )?(today|tonight|right now|yet))|"
    r"already (bought|got|picked|signed)|went with|decided (on|to go)|no longer",
    re.IGNORECASE,
)
# Lost: bought elsewhere already. Then no timeline they mention makes them a lead.
_LOST = re.compile(
    r"已经[^，。]{0,8}(买|提|订)了|买过了|(在|从)[^，。]{0,8}提了|(上个?(礼拜|周|星期|月)|前几天|前两天)[^，。]{0,10}(买|提)了|"
    r"already (bought|got|picked|signed)|went with|"
    r"(we|i) (bought|got) (a|an|the) \w+ (last|from|at|elsewhere)",
    re.IGNORECASE,
)
# The salesperson speaking of the customer's car: 您那台, 您的旧车, "your old one", valuing it.
# Not any 您的 or "your": 适合您的需求 beside the car on sale is no ownership.
_OWNED_BY_SALES = re.compile(
    r"(您|你)(那|家那|现在那|家的)(台|辆|部)?|(您|你)的(旧车|老车|车况)|(您|你)(现在|目前|之前)开的|"
    r"(?<![a-z])your (old|current|existing|present)\b|(?<![a-z])(value|valued|apprais\w*|trade) (your|the) ",
    re.IGNORECASE,
)
_CAR_CLAUSE = re.compile(r"[^，。！？；!?;\n—]+?(?:[,.](?=\s|$)|$|(?=[，。！？；!?;\n—]))")


# A customer objecting, doubting or comparing: the price is high, the range short, the wait long,
# the trade-in low, another make cheaper or better; or asking whether something is a problem.
_CONCERN = re.compile(
    r"担心|怕|顾虑|不放心|会不会|靠不靠谱|贵|价.{0,5}(高|超)|超了|超预算|有点超|便宜|不够|不方便|装不了|头疼|在意|"
    r"掉电|衰减|等(多久|太久|那么久|很久)|排队|太(小|挤|硬|吵|晚|慢|少|复杂)|纠结|犹豫|没底|咋整|着火|晃|不太|"
    r"低了|才[^，。]{0,4}(万|千)|也看了|还看了|也在看|还在看|看过|跟.{0,10}比|比.{0,8}(好|强|大|省|便宜|有劲)|"
    r"真的假的|忽悠|[吗嘛呢][？?]|不[？?]|是不是|"
    r"worr|concern|nervous|afraid|not sure|too (expensive|much|small|slow|long|pricey)|"
    r"over (budget|our|my|forty|\d)|cheaper|pricey|the (thing|problem|catch|issue) is|what about|how long|"
    r"hidden fees|doesn.?t (fit|work)|can.?t (afford|charge)|no (garage|charger)|rattl|reliab|"
    r"better (on|than)|than (yours|this|the)|compared|"
    r"(?<![a-z])vs|looked at|also looking|quoted|offered|beat|match|hoping for|thinking like|told me|"
    r"right\?|isn.?t it\?|though\b",
    re.IGNORECASE,
)


def read_concern_turns(turns: Sequence[Turn]) -> set[int]:
    """The customer turns that voice a concern or an objection (the sales turns after them are
    where objection handling is judged)."""
    return {i for i, t in enumerate(turns) if t.role == "customer" and _CONCERN.search(t.text)}


def read_declined(turns: Sequence[Turn]) -> Said | None:
    """The customer's turn saying they will not buy (now): 不买, 已经买了, "went with the Ioniq".
    The value is ``"lost"`` when they bought elsewhere already, else ``"not now"``."""
    found: Said | None = None
    for index, turn in enumerate(turns):
        if turn.role != "customer":
            continue
        lost = _LOST.search(turn.text)
        if lost:
            return Said("lost", index, lost.group(0), 0.9)
        said = _DECLINES.search(turn.text)
        if said and found is None:
            found = Said("not now", index, said.group(0), 0.8)
    return found


def read_cars(turns: Sequence[Turn], gazetteer: Gazetteer) -> tuple[list[Said], list[Said]]:
    """The models of interest and the competitors named in a call, each with the turn that
    decided it.

    Every car named by either party is placed by its clause: the customer's current car is
    left out; the dealer's make (named in the salesperson's first turn, else the make the
    salesperson names most) is what the customer is interested in, the car of it named most;
    another make the customer names is a competitor. A make named alone counts as the model
    of it named elsewhere in the call.
    """
    mentions: list[tuple[int, str, str]] = []  # (turn, name, clause)
    owned: set[str] = set()
    dealer = _dealer_brand(turns, gazetteer)
    for index, turn in enumerate(turns):
        cue = _OWNED if turn.role == "customer" else _OWNED_BY_SALES
        for clause in _car_clauses(turn.text):
            names = gazetteer.find_models(clause, brand=dealer)
            found = cue.search(clause)
            if len(names) == 1 and found:
                owned.add(names[0])
            elif found:
                # Several cars in one clause ("the Ranger, my Hilux is tired"): the one named
                # first after the cue is the customer's.
                after = gazetteer.find_models(clause[found.start() :], brand=dealer)
                if after:
                    owned.add(after[0])
            mentions.extend((index, name, clause) for name in names)
    mentions = [m for m in mentions if m[1] not in owned and _brand(m[1]) not in owned]
    sales_brands = Counter(_brand(name) for index, name, _ in mentions if turns[index].role == "sales")
    dealer = dealer or (sales_brands.most_common(1)[0][0] if sales_brands else None)
    counts = Counter(name for _, name, _ in mentions)
    models_of: dict[str, str] = {}
    for _, name, _ in mentions:
        if " " in name:
            models_of.setdefault(_brand(name), name)

    interest: dict[str, Said] = {}
    competitors: dict[str, Said] = {}
    said_by_customer: set[str] = set()
    # The turn cited: where the model itself is named, by the customer if they name it.
    ranked = sorted(mentions, key=lambda m: (" " not in m[1], turns[m[0]].role != "customer", m[0]))
    for index, said, clause in ranked:
        name = models_of.get(said, said)  # a make alone: its model named elsewhere in the call
        if turns[index].role == "customer":
            said_by_customer.add(name)
        if dealer is not None and _brand(name) == dealer:
            interest.setdefault(name, Said(name, index, clause, 0.8))
        elif turns[index].role == "customer":
            competitors.setdefault(name, Said(name, index, clause, 0.7))
    competitors = dict(sorted(competitors.items(), key=lambda item: item[1].turn))
    if dealer is None and competitors:
        first = next(iter(competitors))
        interest[first] = competitors.pop(first)
    # A car only the salesperson names is of interest unless the customer says they won't buy.
    asked = {k: v for k, v in interest.items() if k in said_by_customer or _brand(k) in said_by_customer}
    declined = read_declined(turns) is not None
    return _best(asked if asked or declined else interest, counts), list(competitors.values())


def _car_clauses(text: str) -> list[str]:
    return [c.strip() for c in _CAR_CLAUSE.findall(text) if c.strip()]


def _brand(name: str) -> str:
    return name.split(" ", 1)[0]


def _dealer_brand(turns: Sequence[Turn], gazetteer: Gazetteer) -> str | None:
    """The dealer's make, when the salesperson's first turn names one (欢迎光临吉利…, "Sunrise Kia")."""
    first = next((t for t in turns if t.role == "sales"), None)
    found = gazetteer.find_models(first.text) if first is not None else ()
    return _brand(found[0]) if found else None


def _best(found: dict[str, Said], counts: Counter[str]) -> list[Said]:
    """The model of interest: the one named most (a make alone only when no model is)."""
    models = [s for s in found.values() if " " in str(s.value)] or list(found.values())
    if not models:
        return []
    return [max(models, key=lambda s: (counts[s.value], -s.turn))]


# --- Timeline -------------------------------------------------------------------------------

# Buying, ordering, signing, taking delivery: what a purchase timeline is about.
_PURCHASE = re.compile(
    r"(?<![一确肯决固约规指特否预])定(?![位制期心义律时])|下单|锁单|订车|订单|买(?!单)|提车|提了|签|交钱|付款|办手续|"
    r"入手|拿车|揸到|拿到车|开上|"
    r"(?<![a-z])(buy|sign|order|deposit|purchase|pull the trigger|decide|decision|commit)|"
    r"pick (it |her |him )?up|ready to|get (it|one|the car|her)|take (it|her|delivery)|want (it|one|her)|"
    r"need (one|a car|a new)|in the market",
    re.IGNORECASE,
)
# Said without commitment: no timeline from this clause.
_UNSURE = re.compile(
    r"不一定|说不好|说不准|不好说|看情况|没打算|不买|不换|不考虑|没想好|"
    r"not sure|no plans|"
    r"(?<![a-z])not\b[^.]{0,12}\b(buying|planning|looking)(?! \w* ?(till|until|til|before))|"
    r"(?<![a-z])maybe|might not|no idea|can.?t (really )?do (anything|it) today|not today",
    re.IGNORECASE,
)
# Times that are not of a purchase: one made already, a loan's term, how often or how far the
# customer drives, what someone else said.
_NOT_WHEN = re.compile(
    r"(已经|刚|才|早就|上个?(礼拜|周|星期|月)|去年|前几天|前两天|在[^，。]{0,6})[^，。]{0,6}(买|提|换)了|"
    r"(买|提|换)了[^，。]{0,3}(年|个月)|刚买|才买(了|[一两三四五六七八九十半几]+(年|个月))|刚提|刚换|(年|月|天)前|"
    r"息|分期|期限|贷|"
    r"质保|保修|每|跑|公里|开了|用了|"
    r"那边说|他们说|人家说|听说|多久|什么时候|啥时候|朋友|同事|前(一|两|几)天|不得空|没空|"
    r"how soon|how long|when can|"
    r"(?<![a-z])(bought|had it|owned)|ago(?![a-z])|per (week|month|year)|a (week|month|year)(?! from)|"
    r"times a|warranty|miles|(?<![a-z])km|they said|they told",
    re.IGNORECASE,
)
# Waiting for something before buying: 等过完年吧, 等一月底分红下来再说, "once we've sold the house".
_WAITING = re.compile(
    r"等[^，。]{0,14}(再|才|吧|了)|到时候|(?<![a-z])(once|after|when|till|til|until) (we|i)\b|"
    # The day the car they have now must go: a lease that ends, a company car handed back, the MOT.
    r"租期|到期|timing|sorted by|goes back|(lease|contract)[^.]{0,30}(ends|finishes|runs out|is up)|"
    r"(mot|rego|registration) is (up|due)",
    re.IGNORECASE,
)
# Deciding now, with no time said: 那我定了, "we'll take it" (today).
_DECIDED = re.compile(
    r"(我|我们|那)(就)?定了|就定(了|这台|这个)|就这台了|签吧|"
    r"(?<![a-z])(we'll|i'll|we will|i will) take (it|her)|where do i sign",
    re.IGNORECASE,
)
# Agreeing (let's do it, 行): a decision to buy only when the salesperson's turn before or after
# is about the purchase (a deposit, the order); otherwise it may be a service booking.
_AGREED = re.compile(
    r"(?<![a-z])let'?s do (it|this)(?![a-z])|(?<![a-z])(i think )?(we|i)('ll| will)? do it(?![a-z])|"
    r"go ahead with",
    re.IGNORECASE,
)
# The customer's own plan, said as such: 估计年底前吧, 怎么也得开年, "we're probably looking at March".
_PLAN = re.compile(
    r"估计|估摸|打算|计划|怎么也得|准备|预计|想(在|等)?|(?<![a-z])(i|we)('re|'d| are| would)? "
    r"(probably|likely|hoping|planning|reckon|think|looking at)",
    re.IGNORECASE,
)
# 当场/on the spot: the time of the visit the customer speaks of, not of the call.
_ON_THE_SPOT = re.compile(r"当场|现场|那时候|到时候|那会儿|on the spot|then and there|by then", re.IGNORECASE)
_WHEN = re.compile(
    r"什么时候|啥时候|打算.{0,4}(买|定|提|换)|多久|哪天|要是.{0,6}(定|买)|"
    r"when (are|were|do|would|will) you|time ?frame|how soon|when.{0,20}(buy|move|pull|sign|decide)",
    re.IGNORECASE,
)


def read_timeline(turns: Sequence[Turn], call_date: dt.date) -> Said | None:
    """When the customer means to buy, in days from the call: a time the customer gives for
    buying, ordering or taking delivery (今天就定, "we'll sign tomorrow"), or in answer to the
    salesperson's question about when; never a time for anything else (周末回老家, "a few times
    a year"), nor one said without commitment (明年也不一定). The strongest, then the latest."""
    found: list[tuple[int, int, str, Any]] = []
    for index, turn in enumerate(turns):
        if turn.role != "customer":
            continue
        previous = next((t for t in reversed(turns[:index]) if t.role == "sales"), None)
        asked = previous is not None and bool(_WHEN.search(previous.text))
        everything = _clauses(turn.text)
        buying = any(_PURCHASE.search(c) for c in everything)
        following = next((t for t in turns[index + 1 :] if t.role == "sales"), None)
        deal = any(t is not None and _PURCHASE.search(t.text) for t in (previous, following))
        for clause in everything:
            if _UNSURE.search(clause) or _NOT_WHEN.search(clause):
                continue
            days = normalize_timeline(clause, call_date)
            if _ON_THE_SPOT.search(clause):
                days = normalize_timeline(_ON_THE_SPOT.sub(" ", turn.text), call_date) or days
            decided = bool(_DECIDED.search(clause) or (deal and _AGREED.search(clause)))
            if days is None and decided:
                days = 0
            if days is None:
                continue
            if _PURCHASE.search(clause) or decided:
                strength = 3
            elif buying or asked or _WAITING.search(clause) or _PLAN.search(clause):
                strength = 2 if buying or _WAITING.search(clause) or _PLAN.search(clause) else 1
            else:
                continue
            found.append((strength, index, clause, days))
    return _strongest(found)


# --- Payment and trade-in -------------------------------------------------------------------

_PAYMENT: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (value, re.compile(pattern, re.IGNORECASE))
    for value, pattern in (
        (
            "lease",
            r"租赁|以租代购|(?<![a-z])leas(e|ing)(?! (car|runs|ends|finishes|is up|through the company))|"
            r"novated|salary sacrifice|contract hire|(?<![a-z])pch(?![a-z])",
        ),
        (
            "full",
            r"全款|一次性付|付清|不(想|要|整|用|打算)?贷款|现金(买|付)|(?<![a-z])cash(?! ?back)|outright|"
            r"pay(ing)? in full|no finance|(don.?t|do not) (want|need) (any )?financ",
        ),
        (
            "loan",
            r"贷款|分期|按揭|月供|首付|零首付|(?<![a-z])financ(e|ing)|(?<![a-z])loan|(?<![a-z])apr(?![a-z])|"
            r"(?<![a-z])pcp(?![a-z])|(?<![a-z])hp deal|my payment|a month|per month|monthly|"
            r"put [^.]{0,12} down",
        ),
    )
)


def read_payment(turns: Sequence[Turn]) -> Said | None:
    """How the customer will pay (``full``, ``loan``, ``lease``), from their own words: a lease
    named wins, then paying in full said outright (全款, 不贷款, "we'll pay cash", which asking
    about a monthly figure does not undo), then any talk of a loan (月供, 首付, "what's the monthly")."""
    found: dict[str, Said] = {}
    for index, turn in enumerate(turns):
        if turn.role != "customer":
            continue
        for clause in _clauses(turn.text):
            for value, pattern in _PAYMENT:
                if pattern.search(clause):
                    found.setdefault(value, Said(value, index, clause, 0.8))
                    break
    return next((found[v] for v in ("lease", "full", "loan") if v in found), None)


_NO_TRADE = re.compile(
    r"没(有)?旧车|不置换|不卖|不换(掉)?(旧|那)|留给|自己留着|没(有)?车|第一(台|辆)车|"
    r"nothing to trade|not trading|no trade|(not|n.t) (part[- ]?ex|trad)\w*|keep(ing)? (it|the|my|her)|"
    r"turning (it|the \w+) (back|in) to|hand(ing)? (it )?back|goes back|first car",
    re.IGNORECASE,
)
_TRADE = re.compile(
    r"置换|旧车|评估|抵(掉|一部分)?|卖(掉|给你们)|收(我|旧)|能给(多少|到)|"
    r"trade[- ]?in|trade (it|that|the|my|mine)|trading (it|the|my|in)|part[- ]?ex|give (me|us) for|"
    r"get for (the|my|our|it)|take (my|our) |value (my|our|it)|valuation|appraise",
    re.IGNORECASE,
)
# The salesperson putting a figure on the customer's car: a valuation has been done.
_VALUED = re.compile(
    r"(评估|估|给到|能给|评)[^，。]{0,10}(万|千)|(valued|appraised|he.?s at|they.?re at|got your \w+ at|"
    r"at (\d|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen)\w*"
    r" (thousand|grand|hundred))",
    re.IGNORECASE,
)


def read_trade_in(turns: Sequence[Turn]) -> Said | None:
    """Whether the customer trades in a car: said no (没旧车, "nothing to trade in") is False;
    their asking for or disputing a valuation (置换, 三万一低了吧, "what would you give me for
    it"), or the salesperson's valuation of their car, is True; the customer's word comes last."""
    found: Said | None = None
    for index, turn in enumerate(turns):
        for clause in _clauses(turn.text):
            if turn.role == "customer" and _NO_TRADE.search(clause):
                found = Said(False, index, clause, 0.8)
            elif turn.role == "customer" and _TRADE.search(clause):
                found = Said(True, index, clause, 0.8)
            elif turn.role == "sales" and _VALUED.search(clause) and (found is None or found.value):
                found = found or Said(True, index, clause, 0.7)
    return found


def plausible(key: str, turn: Turn, words: str) -> bool:
    """Whether the tagger's reading of ``words`` in ``turn`` as ``key`` survives what the
    conversation readers know: not a trade-in, instalment or quote for a budget; not a past
    purchase, a loan term, a frequency or an unsure remark for a timeline. Used where the
    readers found nothing and the turn-level tagger did."""
    words = words.strip(" ?!.,;:，。？！；：")
    clause = next((c for c in _clauses(turn.text) if words and words in c), words)
    if turn.role != "customer":
        return False
    after = turn.text.find(clause) + len(clause)
    if turn.text[after : after + 1] in ("?", "？"):
        return False  # a question ("how soon can we…?") states no plan
    if key == "budget_cny":
        return not _NOT_BUDGET.search(clause)
    if key == "purchase_timeline_days":
        return not (_UNSURE.search(clause) or _NOT_WHEN.search(clause))
    return True
