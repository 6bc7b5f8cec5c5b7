"""``GET /metrics``: Prometheus metrics of this server, in a registry of its own (no global state).

- ``repomind_webhook_deliveries_total{event, outcome}``: deliveries by outcome (``queued``, ``duplicate``,
  ``ignored``, ``bad_request``, ``bad_signature``, ``unavailable``, ``error``);
- ``repomind_webhook_ack_seconds``: how long the acknowledgement took (histogram);
- ``repomind_jobs{state}``, ``repomind_queue_pending``, ``repomind_tokens_total``, ``repomind_cost_usd_total``
  and ``repomind_attempts_total``: read from the ledger and the queue when scraped, so every process that
  shares them reports the same numbers;
- ``repomind_stage_seconds{stage}`` (localise, environment, attempt, step, tests, push),
  ``repomind_sandbox_run_seconds`` and ``repomind_llm_seconds{role}`` (solver, reviewer): histograms of the
  durations each worker stored in its job's result (:mod:`repomind.bot.jobs.stage_clock`), so workers on
  other hosts count as long as they share the ledger's database;
- ``repomind_feedback_total{outcome}``: bot PRs merged or closed unmerged (the feedback table), and
  revisions asked for (``revise`` jobs).

Served only in ready mode, and only to the operator (``Authorization: Bearer $REPOMIND_OPERATOR_TOKEN``):
it counts every installation's jobs and spending.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from repomind.bot.jobs.stage_clock import STAGES
from repomind.store import Ledger
from repomind.store.models import Feedback, Job, JobState

WEBHOOK_PATH = "/webhooks/github"
_OUTCOMES = {
    202: "queued",
    200: "duplicate",
    204: "ignored",
    400: "bad_request",
    401: "bad_signature",
    413: "too_large",
    503: "unavailable",
}
#: Answers given before the signature was checked: the request's headers are anyone's.
_UNVERIFIED = frozenset({401, 413, 503})
#: Upper bounds of the duration histograms, seconds: from a model call to a long test suite.
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class Pending(Protocol):
    def pending(self) -> int: ...


class _LedgerCollector(Collector):
    """Jobs by state and the work they did, read from the ledger at scrape time."""

    def __init__(self, ledger: Ledger, queue: Pending | None) -> None:
        self.ledger = ledger
        self.queue = queue

    def collect(self) -> Iterator[Any]:
        jobs = self.ledger.all_jobs()
        states = GaugeMetricFamily("repomind_jobs", "Jobs in the ledger by state", labels=["state"])
        for state in JobState:
            states.add_metric([state.value], sum(1 for j in jobs if j.state is state))
        yield states
        results = [j.result or {} for j in jobs]
        tokens = sum(_int(r, "tokens") for r in results)
        yield CounterMetricFamily("repomind_tokens", "LLM tokens spent by finished jobs", value=tokens)
        yield CounterMetricFamily(
            "repomind_cost_usd",
            "Dollars spent by finished jobs (jobs of unknown price count 0)",
            value=sum(float(r.get("cost_usd") or 0.0) for r in results),
        )
        yield CounterMetricFamily(
            "repomind_attempts",
            "Patch attempts made by finished jobs",
            value=sum(len(r.get("attempts") or []) for r in results),
        )
        yield from _durations(results)
        yield _feedback(self.ledger, jobs)
        if self.queue is not None:
            yield GaugeMetricFamily(
                "repomind_queue_pending", "Messages waiting in the job queue", value=self.queue.pending()
            )


def _histogram(
    name: str, doc: str, labels: list[str], series: dict[tuple[str, ...], list[float]]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for label_values, values in series.items():
        buckets = [(_le(bound), float(sum(1 for v in values if v <= bound))) for bound in BUCKETS]
        family.add_metric(list(label_values), [*buckets, ("+Inf", float(len(values)))], sum(values))
    return family


def _le(bound: float) -> str:
    return f"{bound:g}" if bound < 1e6 else str(bound)


def _durations(results: list[dict[str, Any]]) -> Iterator[HistogramMetricFamily]:
    stages: dict[tuple[str, ...], list[float]] = {(s,): [] for s in STAGES}
    sandbox: dict[tuple[str, ...], list[float]] = {(): []}
    llm: dict[tuple[str, ...], list[float]] = {("solver",): [], ("reviewer",): []}
    for result in results:
        timings = result.get("timings")
        if not isinstance(timings, dict):
            continue
        for key, values in timings.items():
            seconds = (
                [float(v) for v in values if isinstance(v, int | float)] if isinstance(values, list) else []
            )
            if key in STAGES:
                stages[(key,)] += seconds
            elif key == "sandbox":
                sandbox[()] += seconds
            elif key in ("llm", "review"):
                llm[("solver" if key == "llm" else "reviewer",)] += seconds
    yield _histogram("repomind_stage_seconds", "Duration of each stage of the runs", ["stage"], stages)
    yield _histogram(
        "repomind_sandbox_run_seconds", "Duration of each test command in the sandbox", [], sandbox
    )
    yield _histogram("repomind_llm_seconds", "Latency of each model call", ["role"], llm)


def _feedback(ledger: Ledger, jobs: list[Job]) -> CounterMetricFamily:
    with ledger.reading() as s:
        rows = s.execute(select(Feedback.merged, func.count()).group_by(Feedback.merged)).all()
    merged = {bool(flag): int(count) for flag, count in rows}
    family = CounterMetricFamily(
        "repomind_feedback",
        "What became of the bot's PRs: merged, closed unmerged, revised",
        labels=["outcome"],
    )
    family.add_metric(["merged"], merged.get(True, 0))
    family.add_metric(["closed"], merged.get(False, 0))
    family.add_metric(["revised"], sum(1 for j in jobs if j.command == "revise"))
    return family


def _int(data: dict[str, Any], key: str) -> int:
    try:
        return int(data.get(key) or 0)
    except (TypeError, ValueError):
        return 0


class Metrics:
    """The server's registry and its webhook metrics; ``install`` wires them into an app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "repomind_webhook_deliveries",
            "Webhook deliveries by event and outcome",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "repomind_webhook_ack_seconds",
            "Time to acknowledge a webhook delivery",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )

    def watch_ledger(self, ledger: Ledger, queue: Pending | None) -> None:
        self.registry.register(_LedgerCollector(ledger, queue))

    def install(self, app: FastAPI) -> None:
        """Count and time webhook deliveries (every mode)."""

        @app.middleware("http")
        async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if request.url.path != WEBHOOK_PATH or request.method != "POST":
                return await call_next(request)
            started = time.perf_counter()
            response = await call_next(request)
            self.ack_seconds.observe(time.perf_counter() - started)
            # An unsigned request's headers are anyone's: never a label value (unbounded cardinality).
            verified = response.status_code not in _UNVERIFIED
            event = (request.headers.get("X-GitHub-Event") or "unknown") if verified else "unverified"
            self.deliveries.labels(event, _OUTCOMES.get(response.status_code, "error")).inc()
            return response

    def router(self) -> APIRouter:
        """``GET /metrics`` for the operator; a signed-in person gets 403 (it spans every repository)."""
        router = APIRouter()

        @router.get("/metrics")
        def metrics(request: Request) -> Response:
            viewer = getattr(request.state, "viewer", None)
            if viewer is None or viewer.login is not None:
                return Response("/metrics needs the operator token\n", status_code=403)
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return router
