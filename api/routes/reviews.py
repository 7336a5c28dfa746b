"""``POST /v1/calls/{call_id}/review``: QA's corrections of a call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api.deps import QaDep, SessionDep
from api.models import ReviewIn
from api.problems import documented
from callintel.store.reviews import RecordedReview, add_review

router = APIRouter(prefix="/v1", tags=["calls"])


@router.post(
    "/calls/{call_id}/review",
    status_code=201,
    response_model=RecordedReview,
    responses=documented(400, 401, 403, 404, 409, 413, 422),
)
def review(
    call_id: str, who: QaDep, session: SessionDep, body: Annotated[ReviewIn, Body()]
) -> RecordedReview:
    """Record a QA review of a call; its reviewer is this key's name. QA's corrections become the
    call's effective result (`GET /v1/calls/{id}`), its journey tags, and a `call.reviewed` event."""
    return add_review(session, who, call_id, body.model_dump(exclude={"complete"}), complete=body.complete)
