"""What the dashboard's routes share: the ledger, access control, the runs folder and the starter; a job
is found only when the viewer can read its repository (else 404, as for a job that does not exist)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import HTTPException, Request

from repomind.server.dashboard.events import POLL_S
from repomind.server.dashboard.start import Starter
from repomind.server.oauth import OAuthError
from repomind.server.signin import Access
from repomind.store import Job, Ledger
from repomind.store.artifacts import Artifacts

T = TypeVar("T")


@dataclass
class Visible:
    ledger: Ledger
    access: Access
    starter: Starter
    #: The runs' files in the shared store (the agent's steps, each attempt's diff); None: none shown.
    artifacts: Artifacts | None = None
    poll_s: float = POLL_S
    github_web: str = "https://github.com"

    @staticmethod
    def call(check: Callable[[], T]) -> T:
        """An access check that may ask GitHub: 503 when GitHub cannot say."""
        try:
            return check()
        except OAuthError as exc:
            raise HTTPException(503, f"cannot check your access with GitHub: {exc}") from None

    def job(self, request: Request, job_id: str) -> Job:
        """The job when it exists and the viewer can read its repository; 404 alike otherwise."""
        missing = HTTPException(404, f"no run {job_id}")
        if not job_id.isdigit() or len(job_id) > 18:
            raise missing
        try:
            job = self.ledger.job(int(job_id))
        except KeyError:
            raise missing from None
        if not self.call(lambda: self.access.can_read(request.state.viewer, job.repo)):
            raise missing
        return job
