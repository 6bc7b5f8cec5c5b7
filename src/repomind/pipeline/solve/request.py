"""What a ``solve`` run is asked (:class:`SolveRequest`) and what it answers (:class:`SolveReport`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repomind import repoconfig
from repomind.pipeline.llm import Budget
from repomind.pipeline.solve.artifacts import SCHEMA_VERSION
from repomind.pipeline.solve.outcome import Stopped
from repomind.pipeline.solve.reflect import AttemptRecord


@dataclass(frozen=True)
class SolveRequest:
    """One issue against one repository at one revision; the run's files go to ``out_dir``."""

    repo: str
    issue_text: str
    out_dir: Path
    rev: str | None = None
    max_attempts: int | None = None  # None: the repository's config (default 3)
    budget_tokens: int | None = None  # None: the repository's config (default: no limit)
    budget_usd: float | None = None
    #: The agent's step limit; None: the repository's config (``max_steps``, default 40).
    max_steps: int | None = None
    keep_work_trees: bool = False
    redact: Sequence[str] = ()
    run_id: str | None = None
    #: The repository's config as the caller read it (the bot: from the default branch); None: the
    #: ``.github/repomind.yml`` of the starting revision.
    config: repoconfig.RepoConfig | None = None
    #: People's words for the prompt: a ``retry`` hint, and ``revise`` feedback on an earlier patch.
    hint: str | None = None
    feedback: str | None = None
    #: Localisation pins (paths or directories): included files come first, excluded ones are dropped.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    #: Stop before patching (``Stopped.NEEDS_HINT``) when the calibrated set has more files than
    #: this and no ``include`` pin was given; None never stops (the CLI).
    max_set_size: int | None = None


@dataclass
class SolveReport:
    """The outcome: ``success`` only when a patch passed and was verified against the issue."""

    run_id: str
    success: bool
    verified: bool
    stopped: Stopped
    message: str
    model: str
    commit: str
    attempts: list[AttemptRecord] = field(default_factory=list)
    max_attempts: int = 0
    budget: Budget = field(default_factory=Budget)
    patch_attempt: int | None = None
    localisation: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    out_dir: Path = Path()
    #: The strategy that ran (:mod:`repomind.pipeline.strategies`).
    strategy: str = "pipeline"
    #: Actions the agent took (0 for the pipeline); ``attempts`` counts verifications.
    steps: int = 0
    #: The agent's reviewer: ``calls``, ``rejected``, ``tokens``, ``cost_usd`` (empty when none ran).
    review: dict[str, Any] = field(default_factory=dict)

    @property
    def patch(self) -> str:
        """The chosen attempt's diff as it is in the work tree (the run's ``patch.diff`` is redacted for
        the eye: a repository's own ``user:password@`` URL or test key there would not apply)."""
        chosen = next((a for a in self.attempts if a.number == self.patch_attempt), None)
        return chosen.diff if chosen else ""

    def to_json(self) -> dict[str, Any]:
        chosen = next((a for a in self.attempts if a.number == self.patch_attempt), None)
        return {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "success": self.success,
            "verified": self.verified,
            "stopped": self.stopped.value,
            "message": self.message,
            "attempts": len(self.attempts),
            "max_attempts": self.max_attempts,
            "tokens": self.budget.tokens,
            "cost_usd": self.budget.cost_usd,
            "model": self.model,
            "commit": self.commit,
            "categories": [a.category.value for a in self.attempts],
            "patch_attempt": self.patch_attempt,
            "patch_category": chosen.category.value if chosen else None,
            "tests": (chosen.tests.get("verdict", {}) if chosen else {}),
            "attempt_details": [a.to_json() for a in self.attempts],
            "budget": self.budget.to_json(),
            "localisation": self.localisation,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "strategy": self.strategy,
            "steps": self.steps,
            "review": self.review,
        }
