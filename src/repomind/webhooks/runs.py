"""``GET /runs/{job_id}``: the run page a status comment links to (state, live log, result, artefacts).

While the job is queued or running the page refreshes itself every few seconds and shows the latest
lines of the job's live log (what its status comment went through: stages, the calibrated set, each
attempt's test outcome).
"""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from repomind.store import Ledger, latest_events

#: Seconds between refreshes of the page of an active job.
REFRESH_S = 5
#: Lines of the live log shown.
LOG_LINES = 50


def runs_router(ledger: Ledger) -> APIRouter:
    router = APIRouter()

    @router.get("/runs/{job_id}", response_class=HTMLResponse)
    def run_page(job_id: int) -> str:
        try:
            job = ledger.job(job_id)
        except KeyError:
            raise HTTPException(404, f"no job {job_id}") from None
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
        cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        events = latest_events(ledger, job.id, LOG_LINES)
        log = "".join(
            f"<tr><td>{e.at:%H:%M:%S}</td><td>{html.escape(e.kind)}</td>"
            f"<td>{html.escape(e.message)}</td></tr>"
            for e in events
        )
        live = job.state.active
        refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if live else ""
        note = f"<p>Live: this page refreshes every {REFRESH_S} s.</p>" if live else ""
        diff = html.escape(job.bot_diff or result.get("diff", "") or "")
        return (
            f"<!doctype html>{refresh}<title>Repomind job {job.id}</title><h1>Job {job.id}</h1>"
            f"<table>{cells}</table><h2>Log</h2>{note}"
            f'<table class="log">{log or "<tr><td>nothing yet</td></tr>"}</table>'
            f"<h2>Diff</h2><pre>{diff}</pre>"
        )

    return router
