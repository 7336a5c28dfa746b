"""``/v1/me``: the calling key, its name, role and dealers (the console's dealer choices)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, SessionDep
from api.problems import documented
from callintel.store.keys import KeyProfile, key_profile

router = APIRouter(prefix="/v1", tags=["keys"])


@router.get("/me", response_model=KeyProfile, responses=documented(400, 401))
def me(who: CallerDep, session: SessionDep) -> KeyProfile:
    """The key this request was made with: its name, role and the dealers it may see."""
    return key_profile(session, who)
