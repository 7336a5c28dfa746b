"""Errors as RFC 9457 problem details (``application/problem+json``), never stack traces.

The one place where exceptions become HTTP answers: a :class:`Problem` a route raises, a request
that does not validate, the project's own exceptions (:data:`STATUS_OF`), and anything else (500).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from callintel.errors import (
    AudioDecodeError,
    AudioError,
    AudioTooLongError,
    CallintelError,
    ChannelLayoutError,
    Conflict,
    EmptyAudioError,
    InvalidInput,
    NotAudioError,
    NotFound,
    SilentAudioError,
    UnsupportedFormatError,
)

logger = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class ProblemDetails(BaseModel):
    """An error (RFC 9457), served as ``application/problem+json``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


# The project's exceptions the API answers with their message, by status; the first class in an
# exception's MRO that is here decides. Any other CallintelError is a server error (500).
STATUS_OF: dict[type[CallintelError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    NotAudioError: 415,
    UnsupportedFormatError: 415,
    AudioTooLongError: 413,
    AudioError: 422,
}


# Problem types (RFC 9457 ``type``, relative to the service): what went wrong, for a client to
# act on or to word in its own language (the console does) without parsing ``detail``. The
# first class in an exception's MRO that is here decides; the others are ``about:blank``.
TYPE_PREFIX = "/problems/"
TYPE_OF: dict[type[CallintelError], str] = {
    EmptyAudioError: "empty-audio",
    NotAudioError: "not-audio",
    AudioDecodeError: "audio-decode",
    UnsupportedFormatError: "unsupported-format",
    AudioTooLongError: "audio-too-long",
    SilentAudioError: "silent-audio",
    ChannelLayoutError: "channel-layout",
    NotFound: "not-found",
    Conflict: "conflict",
    InvalidInput: "invalid-input",
}


def kind_of(exc: CallintelError) -> str | None:
    """The problem type's name of one of the project's exceptions (None: ``about:blank``)."""
    return next((TYPE_OF[t] for t in type(exc).__mro__ if t in TYPE_OF), None)


def problem_type(name: str | None) -> str:
    """The ``type`` URI of the problem ``name`` (None: ``about:blank``)."""
    return "about:blank" if name is None else TYPE_PREFIX + name


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, as problem details. Each operation names
    the ones it can answer: 400 (a NUL in the URL, a bad ``Content-Length``: every operation), 401
    (no valid key), 403 (the key's role or dealers), 404, 409, 413, 415, 422, 500, 503."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "model": ProblemDetails,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }


class Problem(Exception):
    """An error the API answers with ``status`` and a sentence saying what to do."""

    def __init__(
        self,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        *,
        kind: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.kind = kind  # the problem type's name (TYPE_OF's), None for about:blank
        self.extra = extra


def problem_response(
    status: int, detail: str, headers: dict[str, str] | None = None, *, kind: str | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": problem_type(kind),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """Answer every error as problem details, and document only those in the OpenAPI."""
    _document_only_problems(app)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, exc.headers, kind=exc.kind, **exc.extra)

    @app.exception_handler(CallintelError)
    async def _ours(request: Request, exc: CallintelError) -> JSONResponse:
        status = next((STATUS_OF[t] for t in type(exc).__mro__ if t in STATUS_OF), None)
        if status is None:
            return await _unexpected(request, exc)
        return problem_response(status, str(exc), kind=kind_of(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)[:2000]
        return problem_response(422, detail or "invalid request", kind="validation", errors=errors[:50])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal error; the server log has the details", kind="server")


def _document_only_problems(app: FastAPI) -> None:
    """Drop the 422 answer FastAPI documents on every operation with parameters (its own
    ``HTTPValidationError``, which this API never sends): an operation that can answer 422
    documents it as problem details itself."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # cached by FastAPI until the routes change; this edit is idempotent
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422", {})
                if "HTTPValidationError" in str(answer.get("content")):
                    del operation["responses"]["422"]
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
