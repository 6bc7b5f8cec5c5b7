"""``GET /runs/{job_id}``: the run page a status comment links to (state, live log, result, artefacts);
``GET /api/runs/{job_id}``: the same facts as JSON, for scripts (with the operator token).

Only a viewer who can read the job's repository sees either; for anyone else a job that exists and one
that does not look the same (404). Anonymous requests never get here (:mod:`repomind.server.signin`).

While the job is queued or running the page refreshes itself every few seconds and shows the latest
lines of the job's live log (what its status comment went through: stages, the calibrated set, each
attempt's test outcome). For an agent run it lists the agent's steps, read from the run's
``trajectory.jsonl`` under ``runs_dir`` (:mod:`repomind.server.run_steps`). Every text on it (error, live
log, steps, diff) is redacted before it is escaped.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from repomind.redact import redact
from repomind.server.oauth import OAuthError
from repomind.server.run_steps import run_dir, steps_section
from repomind.server.signin import Access
from repomind.store import Ledger, latest_events
from repomind.store.joblog import first_event
from repomind.store.models import Job

#: Seconds between refreshes of the page of an active job.
REFRESH_S = 5
#: Lines of the live log shown.
LOG_LINES = 50


def runs_router(ledger: Ledger, access: Access, runs_dir: Path | None = None) -> APIRouter:
    router = APIRouter()

    def steps_of(job: Job) -> str:
        """The agent's steps section: the run is named by the job's result once it ended, by the run's
        first live-log line (``run``) while it goes."""
        if runs_dir is None:
            return ""
        run_id = str((job.result or {}).get("run_id") or "")
        if not run_id:
            started = first_event(ledger, job.id, "run")
            run_id = started.message if started is not None else ""
        directory = run_dir(runs_dir, run_id)
        return steps_section(directory) if directory is not None else ""

    def visible_job(request: Request, job_id: str) -> Job:
        """The job when it exists and the viewer can read its repository; 404 alike otherwise."""
        missing = HTTPException(404, f"no job {job_id}")
        if not job_id.isdigit() or len(job_id) > 18:
            raise missing
        try:
            job = ledger.job(int(job_id))
        except KeyError:
            raise missing from None
        try:
            readable = access.can_read(request.state.viewer, job.repo)
        except OAuthError as exc:
            raise HTTPException(503, f"cannot check your access with GitHub: {exc}") from None
        if not readable:
            raise missing
        return job

    @router.get("/api/runs/{job_id}")
    def run_json(request: Request, job_id: str) -> dict[str, Any]:
        job = visible_job(request, job_id)
        result = job.result or {}
        return {
            "id": job.id,
            "repository": job.repo,
            "issue": job.issue_number,
            "command": job.command,
            "state": job.state.value,
            "requested_by": job.requested_by,
            "branch": job.branch,
            "pull_request": job.pr_number,
            "tokens": result.get("tokens"),
            "cost_usd": result.get("cost_usd"),
            "error": redact(job.error) if job.error else job.error,
        }

    @router.get("/runs/{job_id}", response_class=HTMLResponse)
    def run_page(request: Request, job_id: str) -> str:
        job = visible_job(request, job_id)
        result = job.result or {}
        rows = [
            ("repository", job.repo),
            ("issue", f"#{job.issue_number}"),
            ("command", job.command),
            ("state", job.state.value),
            ("requested by", job.requested_by),
            ("branch", job.branch or ""),
            ("pull request", f"#{job.pr_number}" if job.pr_number else ""),
            ("tokens", str(result.get("tokens", ""))),
            ("cost (USD)", str(result.get("cost_usd", ""))),
            ("error", job.error or ""),
        ]
        cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{_text(v)}</td></tr>" for k, v in rows)
        events = latest_events(ledger, job.id, LOG_LINES)
        log = "".join(
            f"<tr><td>{e.at:%H:%M:%S}</td><td>{html.escape(e.kind)}</td><td>{_text(e.message)}</td></tr>"
            for e in events
        )
        live = job.state.active
        refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if live else ""
        note = f"<p>Live: this page refreshes every {REFRESH_S} s.</p>" if live else ""
        diff = _text(job.bot_diff or result.get("diff", "") or "")
        return (
            f"<!doctype html>{refresh}<title>Repomind job {job.id}</title><h1>Job {job.id}</h1>"
            f"<table>{cells}</table><h2>Log</h2>{note}"
            f'<table class="log">{log or "<tr><td>nothing yet</td></tr>"}</table>'
            f"{steps_of(job)}<h2>Diff</h2><pre>{diff}</pre>"
        )

    return router


def _text(value: str) -> str:
    """Text for the page: secrets redacted (:mod:`repomind.redact`), then HTML-escaped."""
    return html.escape(redact(value))
