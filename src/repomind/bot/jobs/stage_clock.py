"""How long each stage of a run took, read off the run's events: the job's ``result["timings"]``.

The worker that ran the job stores them in the ledger with the rest of the result, so ``/metrics`` on any
process that shares the ledger (workers on other hosts included) exports the same histograms
(:mod:`repomind.server.metrics`). Every value is a list of seconds, one per occurrence:

- ``localise``, ``environment``, ``attempt`` (each one-shot attempt or agent verification), ``step`` (each
  agent step), ``tests`` (planning to judging the tests of an attempt), ``push`` (branch and draft PR);
- ``sandbox``: each test command run in the sandbox; ``llm``: each model call (the solver's), and
  ``review``: each reviewer call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from structlog.contextvars import bind_contextvars

from repomind.pipeline.solve.events import (
    AgentStarted,
    AttemptStarted,
    EnvironmentFailed,
    EnvironmentPreparing,
    EnvironmentReady,
    Localised,
    Reflected,
    Replied,
    RunEvent,
    RunStarted,
    StepTaken,
    TestsJudged,
    TestsPlanned,
    TestsRan,
)

STAGES = ("localise", "environment", "attempt", "step", "tests", "push")
KEYS = (*STAGES, "sandbox", "llm", "review")


class StageClock:
    """A subscriber of one run's events (``RunEvents(clock, ...)``); :meth:`as_json` for the result."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.seconds: dict[str, list[float]] = {key: [] for key in KEYS}
        self._started: dict[str, float] = {}

    def observe(self, key: str, seconds: float) -> None:
        self.seconds[key].append(round(max(seconds, 0.0), 3))

    def _since(self, mark: str) -> float | None:
        started = self._started.pop(mark, None)
        return None if started is None else self.clock() - started

    def __call__(self, event: RunEvent) -> None:
        now = self.clock()
        match event:
            case RunStarted():
                self._started["localise"] = now
            case Localised():
                if (s := self._since("localise")) is not None:
                    self.observe("localise", s)
            case EnvironmentPreparing():
                self._started["environment"] = now
            case EnvironmentReady(seconds=seconds):
                s = self._since("environment")
                self.observe("environment", seconds if s is None else s)
            case EnvironmentFailed():
                if (s := self._since("environment")) is not None:
                    self.observe("environment", s)
            case AttemptStarted(attempt=n):
                self._started[f"attempt-{n}"] = now
            case Reflected(record=record):  # the agent's verifications have no AttemptStarted
                s = self._since(f"attempt-{record.number}")
                self.observe("attempt", record.seconds if s is None else s)
            case TestsPlanned(attempt=n):
                self._started[f"tests-{n}"] = now
            case TestsJudged(attempt=n):
                if (s := self._since(f"tests-{n}")) is not None:
                    self.observe("tests", s)
            case TestsRan(run=run):
                self.observe("sandbox", run.seconds)
            case Replied(seconds=seconds):
                self.observe("llm", seconds)
            case StepTaken(seconds=seconds, model_seconds=model, review=review):
                self.observe("step", seconds)
                if model is not None:
                    self.observe("llm", model)
                if review and isinstance(review.get("seconds"), int | float):
                    self.observe("review", float(review["seconds"]))
            case _:
                pass

    def as_json(self) -> dict[str, list[float]]:
        return {key: values for key, values in self.seconds.items() if values}


def stage_of(event: RunEvent) -> str | None:
    """The stage an event starts (``localise``, ``environment``, ``attempt-2``, ``tests-2``, ``agent``)."""
    match event:
        case RunStarted():
            return "localise"
        case EnvironmentPreparing():
            return "environment"
        case AttemptStarted(attempt=n):
            return f"attempt-{n}"
        case TestsPlanned(attempt=n):
            return f"tests-{n}"
        case AgentStarted():
            return "agent"
        case StepTaken(step=n):
            return f"step-{n + 1}"  # what is logged next belongs to the following step
        case _:
            return None


def bind_stage(event: RunEvent) -> None:
    """A subscriber: the run's stage as the ``stage`` of every log line (:mod:`repomind.log`) that follows."""
    if (stage := stage_of(event)) is not None:
        bind_contextvars(stage=stage)
