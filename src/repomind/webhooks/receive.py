"""``POST /webhooks/github``: raw body (at most :data:`MAX_BODY`, 413 above) → HMAC check (fails closed)
→ typed event → persisted delivery (de-duplicated on ``X-GitHub-Delivery``) → enqueue → 202. Nothing slow
happens in the request."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from repomind.log import get_logger
from repomind.store import Ledger
from repomind.store.queue import Kind, Queue
from repomind.webhooks.router import PayloadError, Routes
from repomind.webhooks.signature import verify

#: GitHub caps webhook payloads at 25 MB; anything larger is refused before it is read.
MAX_BODY = 25 * 1024 * 1024


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refusing (:class:`BodyTooLarge`) as soon as it is known to exceed ``limit``:
    from ``Content-Length`` before reading anything, else while streaming."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def webhook_router(*, secret: str, ledger: Ledger, queue: Queue, routes: Routes) -> APIRouter:
    router = APIRouter()
    log: Any = get_logger("repomind.webhooks")

    @router.post("/webhooks/github", response_model=None)
    async def receive(request: Request) -> Response:
        try:
            body = await read_capped(request)
        except BodyTooLarge:
            return _problem(413, f"the body is over {MAX_BODY} bytes (GitHub sends at most 25 MB)")
        signature = request.headers.get("X-Hub-Signature-256")
        if not signature:
            return _problem(401, "missing X-Hub-Signature-256: deliveries must be signed")
        if not verify(secret, body, signature):
            log.warning("bad webhook signature", delivery=request.headers.get("X-GitHub-Delivery"))
            return _problem(401, "X-Hub-Signature-256 does not match the body")
        event = request.headers.get("X-GitHub-Event")
        delivery = request.headers.get("X-GitHub-Delivery")
        if not event:
            return _problem(400, "missing X-GitHub-Event header")
        if not delivery:
            return _problem(400, "missing X-GitHub-Delivery header")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _problem(400, f"body is not valid JSON: {exc}")
        if not isinstance(payload, dict):
            return _problem(400, "body must be a JSON object")
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        if not routes.handles(event, action):
            return Response(status_code=204)
        try:
            routes.parse(event, payload)
        except PayloadError as exc:
            return _problem(400, str(exc))
        if not await run_in_threadpool(ledger.record_delivery, delivery, event, action, payload):
            return JSONResponse({"status": "duplicate", "delivery": delivery}, status_code=200)
        try:
            await run_in_threadpool(queue.enqueue, Kind.DISPATCH, delivery)
        except Exception:  # the delivery is persisted: recovery enqueues it again, so still acknowledge
            log.exception("enqueue failed; recovery will pick the delivery up", delivery=delivery)
        log.info("delivery accepted", delivery=delivery, event_name=event, action=action)
        return JSONResponse({"status": "queued", "delivery": delivery}, status_code=202)

    return router
