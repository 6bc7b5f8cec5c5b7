"""A run's story: one frozen dataclass per kind of event, on one synchronous stream (:class:`RunEvents`).

The pipeline emits; everything that reports a run subscribes: the run's files under ``runs/<id>/``
(:class:`repomind.pipeline.solve.recorder.RunRecorder`), the CLI's progress line, and the bot's status
comment and run page. A run that passes emits, in order::

    RunStarted, Localised, EnvironmentPreparing, EnvironmentReady,
    (AttemptStarted, Replied, EditsRead, PatchApplied, Linted, TestsPlanned, TestsRan..., TestsJudged,
     Reflected) per attempt, RunFinished

A run that stops early skips to :class:`RunFinished` (after :class:`EnvironmentFailed`,
:class:`BudgetSpent`, ...); an attempt whose edits cannot be read or applied skips to :class:`Reflected`.
Subscribers are called in the order they subscribed, each event before the next is emitted; an exception
in a subscriber propagates to the pipeline (a subscriber that must not stop the run catches its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repomind.pipeline.llm import Message
from repomind.pipeline.localise.result import Localisation
from repomind.pipeline.solve.outcome import Category, Stopped
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.solve.request import SolveReport
from repomind.pipeline.solve.verify import TestRun
from repomind.pipeline.toolchain.protocol import trim


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    repo: str
    commit: str
    model: str
    #: The text the model sees (hidden HTML stripped).
    issue: str
    max_attempts: int
    budget: dict[str, Any]
    #: The repository's toolchain (``python``, ...).
    toolchain: str = ""


@dataclass(frozen=True)
class Localised:
    """The localisation the patch stage will use (pins applied)."""

    localisation: Localisation


@dataclass(frozen=True)
class EnvironmentPreparing:
    """The sandbox environment is being prepared (built, or found in the cache)."""


@dataclass(frozen=True)
class EnvironmentReady:
    image: str
    cached: bool
    seconds: float


@dataclass(frozen=True)
class EnvironmentFailed:
    error: str
    output: str = ""


@dataclass(frozen=True)
class AttemptStarted:
    """An attempt's prompt, about to be sent to the model (the budget allowed it)."""

    attempt: int
    model: str
    messages: list[Message]


@dataclass(frozen=True)
class Replied:
    attempt: int
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    seconds: float


@dataclass(frozen=True)
class EditsRead:
    """The edits read from the reply (``error``: none could be read)."""

    attempt: int
    edits: list[dict[str, Any]]
    error: str = ""


@dataclass(frozen=True)
class EditFailed:
    """An edit did not apply (its SEARCH text was not found, or was ambiguous): nothing was changed."""

    attempt: int
    error: str
    path: str
    index: int | None


@dataclass(frozen=True)
class PatchApplied:
    """The edits applied in the attempt's work tree. ``refused``: protected or ignored paths they
    changed (the attempt is refused, nothing is tested or kept); else ``diff`` is the attempt's patch."""

    attempt: int
    changed: list[str]
    created: list[str]
    notes: list[str]
    refused: list[str] = field(default_factory=list)
    diff: str = ""


@dataclass(frozen=True)
class Linted:
    """The new lint problems of the patch; when it has none, what the repository's ``format_command``
    did (``formatted``, a note; '' when none is configured) and the patch after it when it changed it."""

    attempt: int
    problems: list[dict[str, Any]]
    formatted: str = ""
    diff: str = ""


@dataclass(frozen=True)
class TestsPlanned:
    __test__ = False  # not a pytest test class

    attempt: int
    #: Which tests run and why, in words ("tests/test_calc.py (named in the issue)").
    reason: str


@dataclass(frozen=True)
class TestsRan:
    """One run of tests in the sandbox: ``before`` (the unpatched tree plus the attempt's test files,
    ``overlay``), ``after``, or a rerun (``rerun-after``, ``rerun-before``)."""

    __test__ = False

    attempt: int
    phase: str
    run: TestRun
    overlay: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TestsJudged:
    """The attempt's test plan, runs and verdict (``tests.json``) and the two full logs."""

    __test__ = False

    attempt: int
    tests: dict[str, Any]
    before_log: str
    after_log: str


@dataclass(frozen=True)
class Reflected:
    """An attempt ended: its category, summary, evidence, diff, tokens and cost."""

    record: AttemptRecord

    @property
    def attempt(self) -> int:
        return self.record.number

    @property
    def category(self) -> Category:
        return self.record.category


@dataclass(frozen=True)
class BudgetSpent:
    """The budget would be exceeded by the next call: no more attempts."""

    attempt: int
    message: str
    budget: dict[str, Any]


@dataclass(frozen=True)
class AgentStarted:
    """The agent strategy's loop begins: its first messages, the tools offered and the protocol."""

    messages: list[Message]
    #: The OpenAI-style function tools offered (``repomind.pipeline.agent.actions.TOOL_SPECS``).
    tools: list[dict[str, Any]]
    #: ``native`` (function calls) or ``text`` (one fenced ``action`` block per reply).
    protocol: str
    max_steps: int
    max_prompt_tokens: int


@dataclass(frozen=True)
class StepTaken:
    """One step of the agent: the model's thought and action, the reviewer's verdict, the observation.

    ``tool`` is ``""`` when the reply held no valid action (``observation`` says why). ``review`` is None
    when the action was not reviewed, else ``{"right_track", "feedback", "tokens", "cost_usd",
    "seconds"}``; an action judged off track did not run and its observation is the feedback.
    ``attempt`` is the verification number when the action was a ``submit`` that reached verification."""

    step: int
    thought: str
    tool: str
    args: dict[str, Any]
    observation: str
    #: A few words for the live views ("1 failed", "applied", "refused: off track").
    outcome: str
    review: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    seconds: float
    call_id: str | None = None
    attempt: int | None = None
    #: How long the model took to answer this step (None: not measured).
    model_seconds: float | None = None


@dataclass(frozen=True)
class RunFinished:
    """The run's report (``stopped`` says why it ended) and the kept patch (``''``: none)."""

    report: SolveReport
    patch: str = ""

    @property
    def stopped(self) -> Stopped:
        return self.report.stopped


RunEvent = (
    RunStarted
    | Localised
    | EnvironmentPreparing
    | EnvironmentReady
    | EnvironmentFailed
    | AttemptStarted
    | Replied
    | EditsRead
    | EditFailed
    | PatchApplied
    | Linted
    | TestsPlanned
    | TestsRan
    | TestsJudged
    | Reflected
    | BudgetSpent
    | AgentStarted
    | StepTaken
    | RunFinished
)
Subscriber = Callable[[RunEvent], None]


class RunEvents:
    """The stream: ``emit`` calls every subscriber in order, synchronously."""

    def __init__(self, *subscribers: Subscriber) -> None:
        self._subscribers: list[Subscriber] = list(subscribers)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def emit(self, event: RunEvent) -> None:
        for subscriber in list(self._subscribers):
            subscriber(event)


def run_json(run: TestRun, log_chars: int = 20_000) -> dict[str, Any]:
    """A test run as the trajectory and ``tests.json`` hold it (the log trimmed, start and end kept)."""
    return {
        "argv": list(run.argv),
        "exit_code": run.exit_code,
        "outcome": run.outcome,
        "results": run.results,
        "source": run.source,
        "seconds": run.seconds,
        "log": trim(run.log, log_chars),
    }


def describe(event: RunEvent) -> str | None:
    """The progress line of an event ("attempt 2: asking gpt-4o"), or None for one that says nothing new
    (the CLI prints these; the bot's status comment shows them as its stage line)."""
    match event:
        case RunStarted():
            return "localising"
        case EnvironmentPreparing():
            return "preparing the sandbox environment"
        case AttemptStarted():
            return f"attempt {event.attempt}: asking {event.model}"
        case TestsPlanned():
            return f"attempt {event.attempt}: running {event.reason}"
        case Reflected(record=record):
            return f"attempt {record.number}: {record.category.value}: {record.summary}"
        case StepTaken():
            return f"step {event.step} · {event.tool or 'no action'} · {event.outcome}"
        case _:
            return None


def progress_lines(log: Callable[[str], None]) -> Subscriber:
    """A subscriber that hands each event's progress line to ``log`` (``repomind solve``'s progress)."""

    def follow(event: RunEvent) -> None:
        line = describe(event)
        if line:
            log(line)

    return follow
