"""``GET /runs/{job_id}``: the run page a status comment links to (state, result, artefacts)."""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from repomind.store import Ledger


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
        diff = html.escape(job.bot_diff or result.get("diff", "") or "")
        return (
            f"<!doctype html><title>Repomind job {job.id}</title><h1>Job {job.id}</h1>"
            f"<table>{cells}</table><h2>Diff</h2><pre>{diff}</pre>"
        )

    return router
