"""API keys: ``ci_<prefix>_<secret>``; only the SHA-256 of the whole key is stored.

Keys are 256-bit random tokens, so a plain SHA-256 (not a slow password hash) is what
protects them at rest; comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callintel.store.models import ApiKey, Dealer, utcnow

Role = Literal["admin", "qa", "crm"]
ROLES: tuple[str, ...] = get_args(Role)
ALL_DEALERS = "*"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and the dealers it may see (``None``: all), and the
    key's name (who a review records as its reviewer; a key without one goes by its prefix,
    ``ci_<prefix>``, which is safe to show)."""

    key_id: str
    role: str
    dealers: frozenset[str] | None
    name: str = ""

    def may_see(self, dealer_id: str) -> bool:
        return self.dealers is None or dealer_id in self.dealers


class DealerRef(BaseModel):
    """A dealer a key may see: its id (what the API takes) and its display name."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str


class KeyProfile(BaseModel):
    """The calling key as its holder may see it: for the console's header and dealer choices."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The key's name (a review records it as the reviewer).")
    role: str
    all_dealers: bool = Field(description="The key sees every dealer, present and future.")
    dealers: list[DealerRef] = Field(description="The dealers it may see now, by id.")


def key_profile(session: Session, who: Principal) -> KeyProfile:
    """The profile of ``who``'s key: its name, role and the dealers it may see."""
    row = session.get(ApiKey, who.key_id)
    query = select(Dealer).order_by(Dealer.id)
    if who.dealers is not None:
        query = query.where(Dealer.id.in_(sorted(who.dealers)))
    dealers = [DealerRef(id=d.id, name=d.name or d.id) for d in session.scalars(query.limit(1000))]
    return KeyProfile(
        name=row.name if row is not None else "",
        role=who.role,
        all_dealers=who.dealers is None,
        dealers=dealers,
    )


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, role: str, dealers: Sequence[str], name: str = "") -> tuple[ApiKey, str]:
    """A new key for ``dealers`` (``["*"]``: all); returns the row and the key, shown once.
    Dealers named here that do not exist yet are registered."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not dealers:
        raise ValueError("a key needs at least one dealer (or '*' for all)")
    for dealer in dealers:
        if dealer != ALL_DEALERS and session.get(Dealer, dealer) is None:
            session.add(Dealer(id=dealer, name=dealer))
    prefix = secrets.token_hex(4)
    key = f"ci_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(prefix=prefix, secret_hash=_hash(key), role=role, dealers=list(dealers), name=name)
    session.add(row)
    session.flush()
    return row, key


def authenticate(session: Session, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ci":
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _hash(key)):
        return None
    row.last_used_at = utcnow()
    dealers = None if ALL_DEALERS in row.dealers else frozenset(row.dealers)
    return Principal(row.id, row.role, dealers, row.name or f"ci_{row.prefix}")


def is_revoked(session: Session, key: str) -> bool:
    """Whether ``key`` is a whole, correct key that was revoked. Only someone holding the key
    learns this (the hash must match), so it tells a wrong key from a revoked one safely."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ci":
        return False
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    return row is not None and row.revoked_at is not None and hmac.compare_digest(row.secret_hash, _hash(key))


def revoke_key(session: Session, key_id_or_prefix: str) -> ApiKey | None:
    """Revoke a key by its id or prefix; None when there is no such key."""
    row = session.get(ApiKey, key_id_or_prefix) or session.scalar(
        select(ApiKey).where(ApiKey.prefix == key_id_or_prefix)
    )
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
