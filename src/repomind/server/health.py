"""``GET /health``: is the bot able to work. Messages waiting on each lane of the queue, the workers
of every host with their last heartbeat (:mod:`repomind.store.workers`), the sandbox images and their
age (through :class:`~repomind.sandbox.inventory.ImageInventory`; with Docker down the page says so),
and the calibration of each repository (:mod:`repomind.server.calibration_view`).

Queue depths, workers and the base images are shown to every viewer (they name no repository); the
cached environment images are named only to the operator (their tags carry repository names), and the
calibrations only for repositories the viewer can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from repomind.sandbox.errors import DockerUnavailableError
from repomind.sandbox.inventory import ImageInfo, ImageInventory
from repomind.server.calibration_view import calibrations
from repomind.server.pages import page
from repomind.server.signin import Access
from repomind.server.viewing import readable, viewer_of
from repomind.settings import Settings
from repomind.store import Job, Ledger
from repomind.store.limits import InstallationUsage, usage
from repomind.store.queue import EVENTS, PIPELINE, TRAINING, Queue
from repomind.store.workers import WorkerRow, seen


@dataclass(frozen=True)
class Images:
    """What the page says about the sandbox images."""

    base: list[ImageInfo]
    environments: list[ImageInfo]
    error: str | None = None


def ago(seconds: float) -> str:
    """``12 s``, ``5 min``, ``3 h``, ``2 d``."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"


def list_images(inventory: ImageInventory) -> Images:
    try:
        found = inventory.images()
    except DockerUnavailableError as exc:
        return Images([], [], error=str(exc))
    return Images([i for i in found if i.base], [i for i in found if not i.base])


def _limits(rows: list[InstallationUsage], repos: set[str] | None) -> list[dict[str, object]]:
    """Each installation's use of its limits, naming only the repositories the viewer can read (all of
    them for the operator, ``repos`` None); an installation with none of those is left out."""
    shown: list[dict[str, object]] = []
    for row in rows:
        names = [r for r in row.repos if repos is None or r in repos]
        if names:
            shown.append({"row": row, "repos": names})
    return shown


def health_router(
    settings: Settings, ledger: Ledger, queue: Queue, access: Access, images: ImageInventory
) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_class=HTMLResponse)
    def health(request: Request) -> HTMLResponse:
        viewer = viewer_of(request)
        now = datetime.now(UTC)
        workers: list[WorkerRow] = seen(ledger)
        with ledger.reading() as s:
            known = set(s.scalars(select(Job.repo).distinct()))
        repos = None if viewer.operator else readable(access, viewer, known)
        return page(
            "health",
            viewer=viewer,
            lanes=[(lane, queue.pending(lane)) for lane in (EVENTS, PIPELINE, TRAINING)],
            workers=[
                {
                    "row": w,
                    "ago": ago(w.age_s(now)),
                    "stale": w.stale(now, settings.heartbeat_s),
                    "up": ago((now - w.started_at).total_seconds()),
                }
                for w in workers
            ],
            stale_after=ago(3 * settings.heartbeat_s),
            images=list_images(images),
            operator=viewer.operator,
            ago=lambda image: ago(image.age_s(now)),
            calibrations=calibrations(ledger, repos, settings.calibration_file_for),
            limits=_limits(usage(ledger, settings), repos),
            limited=settings.max_concurrent_jobs is not None or settings.monthly_budget_usd is not None,
        )

    return router
