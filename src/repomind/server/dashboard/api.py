"""The JSON API the dashboard stands on, for scripts and other trackers (documented at ``/docs``)."""

from __future__ import annotations

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from repomind.server.dashboard import events
from repomind.server.dashboard.detail import detail
from repomind.server.dashboard.listing import RunFilter, list_runs, readable
from repomind.server.dashboard.schemas import CancelAnswer, RunCreate, RunCreated, RunDetail, RunList
from repomind.server.dashboard.visible import Visible
from repomind.store import JobState


def api_router(visible: Visible) -> APIRouter:
    router = APIRouter(prefix="/api/runs", tags=["runs"])
    ledger, access = visible.ledger, visible.access

    @router.get("", response_model=RunList, summary="The runs the viewer can see, newest first")
    def runs(
        request: Request,
        repo: str | None = Query(None, description="owner/name"),
        state: JobState | None = None,
        page: int = Query(1, ge=1, le=100_000),
    ) -> RunList:
        repos = visible.call(lambda: readable(access, request.state.viewer, ledger))
        found, number, pages, total = list_runs(ledger, repos, RunFilter(repo or None, state, page))
        return RunList(runs=found, page=number, pages=pages, total=total)

    @router.post("", status_code=202, response_model=RunCreated, summary="Start a run on an issue")
    def start(request: Request, body: RunCreate) -> RunCreated:
        viewer = request.state.viewer
        if not viewer.operator and not visible.call(lambda: access.can_read(viewer, body.repository)):
            raise HTTPException(404, f"{body.repository} is not a repository Repomind is installed on")
        return visible.starter.start(body, viewer)

    @router.get("/{job_id}", response_model=RunDetail, summary="A run in full")
    def run(request: Request, job_id: str) -> RunDetail:
        return detail(ledger, visible.job(request, job_id), visible.artifacts)

    @router.post("/{job_id}/cancel", status_code=202, response_model=CancelAnswer, summary="Cancel a run")
    def cancel(request: Request, job_id: str) -> CancelAnswer:
        job = visible.starter.cancel(visible.job(request, job_id), request.state.viewer)
        return CancelAnswer(id=job.id, state=job.state.value, cancel_requested=job.cancel_requested)

    @router.get(
        "/{job_id}/events",
        summary="The run's live log as server-sent events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    def live(
        request: Request,
        job_id: str,
        after: int | None = Query(None, ge=0, description="the last event id the client has"),
        last_event_id: str | None = Header(None),
    ) -> StreamingResponse:
        job = visible.job(request, job_id)
        stream = events.stream(
            ledger,
            job.id,
            events.resume_after(last_event_id, after),
            disconnected=request.is_disconnected,
            poll_s=visible.poll_s,
        )
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    return router
