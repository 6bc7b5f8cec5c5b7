"""The reviewer (Delvin's evaluator): before an action runs, a plain completion with no tools judges it
against the trajectory and answers ``{"right_track": bool, "feedback": str | null}``.

``review_steps``: ``True`` reviews every action, ``"edits"`` (the default) ``edit`` and ``submit``,
``False`` none. Its calls are charged to the run's budget and reported apart (``report.json`` ``review``).
An answer that cannot be read approves the action (the reviewer guides; the verification decides) and
says so in the verdict's feedback.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from repomind.pipeline.agent import prompts
from repomind.pipeline.llm import Budget, LanguageModel, estimate_tokens

ReviewSteps = bool | Literal["edits"]
#: The tools ``review_steps: edits`` reviews.
EDIT_TOOLS = frozenset({"edit", "submit"})
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    right_track: bool
    feedback: str | None
    tokens: int
    cost_usd: float | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "right_track": self.right_track,
            "feedback": self.feedback,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "seconds": self.seconds,
        }


@dataclass
class Reviewer:
    """Judges actions with ``model`` (the run's, or ``review_model``), charging ``budget``."""

    model: LanguageModel
    budget: Budget
    steps: ReviewSteps = "edits"
    calls: int = 0
    rejected: int = 0
    tokens: int = 0
    usd: float = 0.0
    unpriced: int = 0
    verdicts: list[Verdict] = field(default_factory=list)

    def wants(self, tool: str) -> bool:
        if self.steps == "edits":
            return tool in EDIT_TOOLS
        return bool(self.steps)

    def judge(
        self, issue: str, trail: Sequence[str], tool: str, args: dict[str, Any], thought: str
    ) -> Verdict:
        """The verdict on one action; raises :class:`~repomind.pipeline.llm.BudgetExceeded` or
        :class:`~repomind.pipeline.llm.LLMError` as a model call does."""
        messages = prompts.review_messages(issue, trail, tool, args, thought)
        self.budget.check(estimate_tokens(messages))
        started = time.monotonic()
        reply = self.model.complete(messages)
        self.budget.charge(reply)
        self.calls += 1
        self.tokens += reply.tokens
        if reply.cost_usd is None:
            self.unpriced += 1
        else:
            self.usd += reply.cost_usd
        right, feedback = read_verdict(reply.text)
        if not right:
            self.rejected += 1
        verdict = Verdict(right, feedback, reply.tokens, reply.cost_usd, round(time.monotonic() - started, 3))
        self.verdicts.append(verdict)
        return verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "steps": self.steps,
            "calls": self.calls,
            "rejected": self.rejected,
            "tokens": self.tokens,
            "cost_usd": None if self.unpriced else round(self.usd, 6),
        }


def read_verdict(text: str) -> tuple[bool, str | None]:
    """(right_track, feedback) from the reviewer's answer; an unreadable answer approves, saying so."""
    found = _OBJECT.search(text)
    data: Any = None
    if found:
        try:
            data = json.loads(found.group(0))
        except json.JSONDecodeError:
            data = None
    if not isinstance(data, dict) or not isinstance(data.get("right_track"), bool):
        return True, "(the reviewer's answer could not be read; the action was allowed)"
    feedback = data.get("feedback")
    return data["right_track"], (str(feedback).strip() or None) if feedback is not None else None
