"""The service's routes, one module per resource; thin: parse, check the caller, call the store
(:mod:`callintel.store`), shape the answer."""

from fastapi import APIRouter

from api.routes import (
    analyze,
    calls,
    customers,
    dealers,
    me,
    ops,
    reviews,
    scorecards,
    search,
    team,
    webhooks,
)

api_router = APIRouter()
for module in (calls, analyze, search, customers, reviews, scorecards, webhooks, dealers, team, ops, me):
    api_router.include_router(module.router)

__all__ = ["api_router"]
