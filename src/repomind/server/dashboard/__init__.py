"""The dashboard (issue #22): the runs list, a run's page with its live log, and the JSON API under it.

:func:`dashboard_router` composes them; :mod:`.listing` and :mod:`.detail` read the ledger, :mod:`.events`
streams a run's live log, :mod:`.start` starts and cancels runs as the label trigger does.
"""

from __future__ import annotations

from fastapi import APIRouter

from repomind.server.dashboard.api import api_router
from repomind.server.dashboard.pages import pages_router
from repomind.server.dashboard.start import Starter
from repomind.server.dashboard.visible import Visible

__all__ = ["Starter", "Visible", "dashboard_router"]


def dashboard_router(visible: Visible) -> APIRouter:
    router = APIRouter()
    router.include_router(pages_router(visible))
    router.include_router(api_router(visible))
    return router
