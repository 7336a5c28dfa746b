"""The REST service (FastAPI): what a CRM and the QA console talk to. ``create_app`` builds it."""

from api.main import create_app

__all__ = ["create_app"]
