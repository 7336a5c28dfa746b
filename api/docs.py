"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) without the internet (issue 17).

FastAPI's own pages load their scripts, styles and fonts from CDNs that many dealer networks
cannot reach, and stay blank there. These load the copies that the ``fastapi-offline`` package
bundles (MIT; Swagger UI is Apache-2.0, ReDoc MIT), served under :data:`ASSETS`. The pages'
Content-Security-Policy lets images, fonts and requests come from the service only: ReDoc's
bundle hard-codes Redocly's logo from its CDN (it hides the image when it cannot load).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
"""Where the pages' scripts, styles and icon are served from."""

POLICY = "img-src 'self' data:; font-src 'self' data:; connect-src 'self'"
"""No image, font or request to another host (scripts and styles come from :data:`ASSETS`)."""


def install(app: FastAPI) -> None:
    """Serve the two pages and their assets (``app`` made with ``docs_url=None, redoc_url=None``)."""
    assets = Path(str(files("fastapi_offline") / "static"))
    app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge from the online validator
        )
        page.headers["Content-Security-Policy"] = POLICY
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = POLICY
        return page
