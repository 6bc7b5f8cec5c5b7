"""The seam between the bot and the pipeline: what the worker hands over and what comes back.

The worker checks the issue's repository out at the default branch (or the PR branch for ``revise``),
then calls :meth:`Pipeline.run` once. The pipeline may edit the work tree as it likes; the bot uses only
``PipelineOutcome.diff`` (applied to a clean checkout), so the pipeline never commits or pushes and never
sees a token. The run's story goes to ``events`` (:mod:`repomind.pipeline.solve.events`, the same typed
events from the real pipeline and the fake; the status comment subscribes to it); ``should_cancel`` is
polled at each stage boundary and, when it answers True, the pipeline returns an outcome with status
``cancelled`` as soon as it can. Outcomes use :mod:`repomind.pipeline.solve.outcome`'s vocabulary.

The real implementation wraps ``repomind solve`` (issue 4); :class:`repomind.testing.FakePipeline` edits
files per a script.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from repomind.compose.config import RunConfig
from repomind.pipeline.localise.result import Localisation
from repomind.pipeline.solve.events import RunEvents
from repomind.pipeline.solve.outcome import Category, OutcomeStatus
from repomind.pipeline.toolchain.protocol import LintProblem


@dataclass(frozen=True)
class Hints:
    """What people told the bot: ``retry [hint]``, ``revise <feedback>``, ``include``/``exclude`` pins."""

    hint: str | None = None
    feedback: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    #: ``/repomind fix --anyway``: act even when the calibrated set is wider than ``max_set_size``.
    anyway: bool = False


@dataclass(frozen=True)
class TestEvidence:
    """Tests that failed before and pass after (the evidence), and tests that still pass."""

    __test__ = False  # not a pytest test class

    #: Every evidence test; those not in ``unnamed`` are tied to the issue (named in it, or ``written``).
    fixed: tuple[str, ...] = ()
    still_passing: tuple[str, ...] = ()
    #: Tests skipped, xfailed or xpassed after the patch, as ``(node id, before, after)``: never a pass.
    not_run: tuple[tuple[str, str, str], ...] = ()
    #: False when no test failed before and passes after: the result is "not verified against the issue".
    verified: bool = False
    #: Evidence tests the issue did not name: existing tests that failed on the unpatched code.
    unnamed: tuple[str, ...] = ()
    #: Evidence tests in a test file the change itself added or changed (a reproduction test).
    written: tuple[str, ...] = ()

    def groups(self) -> list[tuple[str, tuple[str, ...]]]:
        """The evidence tests by how they are tied to the issue (the PR body lists them so)."""
        unnamed, written = set(self.unnamed), set(self.written)
        named = tuple(t for t in self.fixed if t not in unnamed and t not in written)
        groups = [
            ("named in the issue", named),
            ("added by this change", tuple(t for t in self.fixed if t in written and t not in unnamed)),
            (
                "not named in the issue (an existing test that failed on the unpatched code)",
                tuple(t for t in self.fixed if t in unnamed),
            ),
        ]
        return [(label, tests) for label, tests in groups if tests]


@dataclass(frozen=True)
class Attempt:
    number: int
    #: ``Category.PASSED``, or why it failed.
    outcome: Category
    summary: str = ""
    tests_passed: int = 0
    tests_failed: int = 0
    #: Skipped, xfailed or xpassed after the patch: neither a pass nor a failure.
    tests_skipped: int = 0
    tokens: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True)
class PipelineOutcome:
    status: OutcomeStatus
    diff: str = ""
    summary: str = ""
    #: On failure, a plain explanation for the maintainers.
    explanation: str = ""
    attempts: tuple[Attempt, ...] = ()
    tokens: int = 0
    cost_usd: float | None = None
    model: str = ""
    localisation: Localisation | None = None
    evidence: TestEvidence = field(default_factory=TestEvidence)
    #: The run's artifacts (``runs/<run_id>/``): feedback on the PR joins its trajectory through them.
    run_id: str = ""
    run_dir: str = ""
    #: New lint problems of the patch (the "Repomind" check run annotates those on added lines).
    lint: tuple[LintProblem, ...] = ()
    #: The strategy that ran: ``pipeline`` or ``agent`` (shown on the dashboard's runs list).
    strategy: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["localisation"] = self.localisation.to_json() if self.localisation else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PipelineOutcome:
        ev = data.get("evidence") or {}
        loc = data.get("localisation")
        return cls(
            status=OutcomeStatus(data["status"]),
            diff=data.get("diff", ""),
            summary=data.get("summary", ""),
            explanation=data.get("explanation", ""),
            attempts=tuple(
                Attempt(**{**a, "outcome": Category(a["outcome"])}) for a in data.get("attempts", [])
            ),
            tokens=int(data.get("tokens", 0)),
            cost_usd=data.get("cost_usd"),
            model=data.get("model", ""),
            localisation=Localisation.from_json(loc) if loc else None,
            evidence=TestEvidence(
                fixed=tuple(ev.get("fixed", ())),
                still_passing=tuple(ev.get("still_passing", ())),
                not_run=tuple((str(n), str(b), str(a)) for n, b, a in ev.get("not_run", ())),
                verified=bool(ev.get("verified", False)),
                unnamed=tuple(ev.get("unnamed", ())),
                written=tuple(ev.get("written", ())),
            ),
            run_id=str(data.get("run_id") or ""),
            run_dir=str(data.get("run_dir") or ""),
            lint=tuple(LintProblem(**p) for p in data.get("lint") or ()),
            strategy=str(data.get("strategy") or ""),
        )


#: Polled at each stage boundary (True: stop as soon as possible).
ShouldCancel = Callable[[], bool]


@dataclass(frozen=True)
class PipelineJob:
    """What the worker hands the pipeline: the checked-out work tree, the issue as the job froze it, the
    run's configuration (resolved once by :func:`repomind.compose.resolve`) and what people told the bot."""

    work_tree: Path
    issue_title: str
    issue_body: str
    config: RunConfig
    hints: Hints = field(default_factory=Hints)
    #: ``OWNER/NAME`` and the installation: where the run's index and own calibration live.
    repo: str = ""
    installation_id: int | None = None


class Pipeline(Protocol):
    """Turns an issue and a checked-out work tree into a tested patch (or a plain explanation)."""

    def run(self, job: PipelineJob, *, events: RunEvents, should_cancel: ShouldCancel) -> PipelineOutcome: ...
