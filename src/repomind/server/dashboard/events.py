"""``GET /api/runs/{id}/events``: a run's live log as server-sent events.

Each :class:`repomind.store.JobEvent` is sent as ``id: N``, ``event: log`` and a JSON ``data`` line (its
message redacted), in order, after the ``Last-Event-ID`` header (or ``?after=``). The ledger is read every
:data:`POLL_S` (workers on any host write the events to the shared database); once the job is no longer
active and every line is out, one ``event: end`` with its state, and the stream closes. A comment line
keeps idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from sqlalchemy import select

from repomind.redact import redact
from repomind.store import Job, JobEvent, Ledger

POLL_S = 0.2
KEEPALIVE_S = 15.0
#: Lines read from the ledger at once.
BATCH = 500


def resume_after(header: str | None, after: int | None) -> int:
    """The last event the client has: the larger of ``Last-Event-ID`` and ``?after=`` (0: none)."""
    ids = [after or 0]
    if header and header.strip().isdigit() and len(header.strip()) <= 18:
        ids.append(int(header.strip()))
    return max(ids)


def frame(event: JobEvent) -> str:
    data = {"id": event.id, "at": event.at.isoformat(), "kind": event.kind, "message": redact(event.message)}
    return f"id: {event.id}\nevent: log\ndata: {json.dumps(data)}\n\n"


def _read(ledger: Ledger, job_id: int, after: int) -> tuple[list[JobEvent], str, bool]:
    """The lines after ``after``, and the job's state and whether it is still active (read first: a line
    written just before the job ended is then always read after it)."""
    with ledger.reading() as s:
        job = s.get(Job, job_id)
        state, active = (job.state.value, job.state.active) if job is not None else ("unknown", False)
        rows = s.scalars(
            select(JobEvent)
            .where(JobEvent.job_id == job_id, JobEvent.id > after)
            .order_by(JobEvent.id)
            .limit(BATCH)
        ).all()
    return list(rows), state, active


async def stream(
    ledger: Ledger,
    job_id: int,
    after: int,
    *,
    disconnected: Callable[[], object],
    poll_s: float = POLL_S,
    keepalive_s: float = KEEPALIVE_S,
) -> AsyncIterator[str]:
    quiet_since = time.monotonic()
    yield "retry: 1000\n\n"
    while True:
        rows, state, active = await asyncio.to_thread(_read, ledger, job_id, after)
        for row in rows:
            after = row.id
            yield frame(row)
        if rows:
            quiet_since = time.monotonic()
        if len(rows) == BATCH:
            continue
        if not active:
            yield f"event: end\ndata: {json.dumps({'state': state})}\n\n"
            return
        if time.monotonic() - quiet_since >= keepalive_s:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        gone = disconnected()
        if asyncio.iscoroutine(gone):
            gone = await gone
        if gone:
            return
        await asyncio.sleep(poll_s)
