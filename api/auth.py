"""API-key authentication and role checks.

Roles: ``admin`` (everything, keys and scorecards), ``qa`` (upload, read, review), ``crm``
(upload, read, journey, erasure). Every key is scoped to dealers; a call outside the scope is
answered 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from callintel.store.keys import Principal, authenticate

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer ci_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (alternative header)")


def principal(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header: str | None = Depends(_header),
) -> Principal:
    key = bearer.credentials if bearer is not None else header
    if not key:
        raise Problem(
            401, "an API key is required (Authorization: Bearer <key>)", {"WWW-Authenticate": "Bearer"}
        )
    with request.app.state.db.session() as session:
        found = authenticate(session, key)
    if found is None:
        raise Problem(401, "the API key is not valid", {"WWW-Authenticate": "Bearer"})
    return found


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting keys of ``roles`` (admin always)."""

    def check(who: Principal = Depends(principal)) -> Principal:
        if who.role != "admin" and who.role not in roles:
            raise Problem(403, f"a {who.role} key may not do this (needs {' or '.join(('admin', *roles))})")
        return who

    return check
