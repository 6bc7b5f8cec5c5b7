"""The dashboard's HTML pages: ``/`` (to the runs), the runs list and a run's page (templates
``runs.html.j2`` and ``run.html.j2``, autoescaped; the stylesheet at ``/static/repomind.css``)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from repomind.redact import redact
from repomind.server.dashboard.detail import detail, run_id_of
from repomind.server.dashboard.listing import RunFilter, list_runs, readable, repositories
from repomind.server.dashboard.visible import Visible
from repomind.server.pages import page
from repomind.server.run_steps import steps_section
from repomind.store import JobState, latest_events

#: Lines of the live log on the page when it opens (the stream adds the rest).
LOG_LINES = 500


def pages_router(visible: Visible) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    ledger, access = visible.ledger, visible.access

    @router.get("/")
    def home() -> Response:
        return RedirectResponse("/runs", status_code=303)

    @router.get("/runs")
    def runs(
        request: Request, repo: str = "", state: str = "", page_number: int = Query(1, alias="page", ge=1)
    ) -> Response:
        viewer = request.state.viewer
        repos = visible.call(lambda: readable(access, viewer, ledger))
        wanted_state = JobState(state) if state in {s.value for s in JobState} else None
        found, number, pages, total = list_runs(
            ledger, repos, RunFilter(repo or None, wanted_state, page_number)
        )

        def link(to: int) -> str:
            query = {k: v for k, v in (("repo", repo), ("state", state), ("page", str(to))) if v}
            return "/runs?" + urlencode(query)

        return page(
            "runs",
            viewer=viewer,
            runs=found,
            repo=repo,
            state=wanted_state.value if wanted_state else "",
            states=[s.value for s in JobState],
            repos=repositories(ledger) if repos is None else repos,
            github_web=visible.github_web,
            page=number,
            pages=pages,
            total=total,
            previous=link(number - 1) if number > 1 else None,
            next=link(number + 1) if number < pages else None,
        )

    @router.get("/runs/{job_id}")
    def run(request: Request, job_id: str) -> Response:
        job = visible.job(request, job_id)
        run_id = run_id_of(ledger, job) if visible.artifacts is not None else ""
        return page(
            "run",
            viewer=request.state.viewer,
            run=detail(ledger, job, visible.artifacts),
            events=[
                {"id": e.id, "at": e.at, "kind": e.kind, "message": redact(e.message)}
                for e in latest_events(ledger, job.id, LOG_LINES)
            ],
            active=job.state.active,
            github_web=visible.github_web,
            steps_html=steps_section(visible.artifacts, run_id) if visible.artifacts and run_id else "",
        )

    return router
