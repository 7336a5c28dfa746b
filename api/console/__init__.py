"""The QA console: server-rendered pages (Jinja2) with a little JavaScript, in the same app.

The pages are shells in the reader's language; their data comes from the REST API with the
user's API key (kept in the tab's ``sessionStorage``), so the console has exactly the API's
roles and dealer scopes and no second way in. No build step: plain ES modules and CSS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined

from api.console.i18n import LANGUAGES, TEXT, UI_TEXT, display_name, language_of
from callintel.domain import ATTRIBUTES, BODY_TYPES, CONCERNS, PAYMENTS, POWERTRAINS, SCENARIOS, USAGES
from callintel.domain import LANGUAGES as CALL_LANGUAGES
from callintel.store.analytics import scorecard_labels
from callintel.store.calls import ChannelChoice

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
# A name a template gets wrong fails the page (and its test) instead of printing nothing.
templates.env.undefined = StrictUndefined
router = APIRouter(prefix="/console", include_in_schema=False)
# The attributes whose values are one of a list (DOMAIN.md): the call page offers them to pick.
ATTRIBUTE_CHOICES = {
    "payment": PAYMENTS,
    "powertrain": POWERTRAINS,
    "body_type": BODY_TYPES,
    "usage": USAGES,
    "concerns": CONCERNS,
}
CSP = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:"


def _page(request: Request, template: str, **context: Any) -> HTMLResponse:
    lang = language_of(request)
    return templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": UI_TEXT[lang],
            "languages": LANGUAGES,
            "scenarios": SCENARIOS,
            "text_json": json.dumps(TEXT[lang], ensure_ascii=False),
            **context,
        },
        headers={"Content-Security-Policy": CSP},
    )


@router.get("", response_class=HTMLResponse)
def root() -> RedirectResponse:
    return RedirectResponse("/console/calls")


@router.get("/signin", response_class=HTMLResponse)
def signin(request: Request) -> HTMLResponse:
    return _page(request, "signin.html")


def _labels(request: Request) -> dict[str, Any]:
    """The scorecards' checkpoint and violation names in the reader's language, for the choices."""
    lang = language_of(request)
    with request.app.state.db.session() as session:
        checkpoints, violations = scorecard_labels(session, request.app.state.settings.models_dir)
    return {
        "checkpoints": {k: display_name(lang, "checkpoint", k, label) for k, label in checkpoints.items()},
        "violations": {k: display_name(lang, "violation", k, label) for k, label in violations.items()},
    }


@router.get("/calls", response_class=HTMLResponse)
def calls(request: Request) -> HTMLResponse:
    return _page(request, "calls.html", **_labels(request))


@router.get("/search", response_class=HTMLResponse)
def search(request: Request) -> HTMLResponse:
    return _page(request, "search.html")


@router.get("/team", response_class=HTMLResponse)
def team(request: Request) -> HTMLResponse:
    return _page(request, "team.html")


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call(request: Request, call_id: str) -> HTMLResponse:
    return _page(
        request,
        "call.html",
        call_id=call_id,
        attribute_choices=ATTRIBUTE_CHOICES,
        attribute_names=ATTRIBUTES,
        **_labels(request),
    )


@router.get("/upload", response_class=HTMLResponse)
def upload(request: Request) -> HTMLResponse:
    return _page(
        request, "upload.html", call_languages=CALL_LANGUAGES, channel_layouts=get_args(ChannelChoice)
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
