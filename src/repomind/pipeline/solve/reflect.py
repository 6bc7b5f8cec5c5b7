"""Reflection: each attempt's category and trimmed evidence, carried into the next attempt's prompt."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from repomind.pipeline.solve.outcome import Category
from repomind.pipeline.toolchain.protocol import trim

EVIDENCE_CHARS = 3000
EDITS_CHARS = 4000


#: What each category asks of the next attempt.
ADVICE: dict[Category, str] = {
    Category.NO_EDITS: "Answer with SEARCH/REPLACE blocks exactly in the required format.",
    Category.EDIT_NOT_APPLIED: (
        "Copy the SEARCH lines exactly from the file as shown, with enough surrounding lines to match "
        "one place only."
    ),
    Category.EMPTY_PATCH: "The REPLACE text must differ from the SEARCH text: make an actual change.",
    Category.SYNTAX_ERROR: "Fix the syntax error; keep the indentation consistent with the file.",
    Category.UNDEFINED_NAME: "Define or import every name the new code uses.",
    Category.IMPORT_ERROR: "The code must import: check module paths and names.",
    Category.TEST_FAILURE: "The tests tied to the issue still fail: read the failure and fix the cause.",
    Category.REGRESSION: "The change broke tests that passed before: keep existing behaviour working.",
    Category.TIMEOUT: "The tests timed out: look for an infinite loop or a very slow path.",
    Category.ENVIRONMENT_ERROR: "The tests could not run in the environment.",
    Category.PROTECTED_PATH: (
        "Those paths may not be changed (CI, build and dependency files, or ignored paths): fix the issue "
        "in the source and test files only, and leave the refused files as they are."
    ),
    Category.UNVERIFIED: (
        "No test shows the issue fixed: add a test that fails on the current code and passes with the "
        "fix (in the repository's test directory), together with the fix."
    ),
}

#: The order in which failed attempts are preferred as "the best attempt" when none passed.
RANK = [
    Category.PASSED,
    Category.UNVERIFIED,
    Category.TEST_FAILURE,
    Category.REGRESSION,
    Category.TIMEOUT,
    Category.IMPORT_ERROR,
    Category.UNDEFINED_NAME,
    Category.SYNTAX_ERROR,
    Category.ENVIRONMENT_ERROR,
    Category.EMPTY_PATCH,
    Category.EDIT_NOT_APPLIED,
    Category.PROTECTED_PATH,
    Category.NO_EDITS,
]


@dataclass
class AttemptRecord:
    """One attempt as the report and the next prompt see it."""

    number: int
    category: Category
    summary: str
    evidence: str = ""
    edits_text: str = ""
    changed: list[str] = field(default_factory=list)
    diff: str = ""
    tokens: int = 0
    cost_usd: float | None = None
    seconds: float = 0.0
    verified: bool = False
    tests: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.category is Category.PASSED

    def for_prompt(self) -> dict[str, str]:
        """What the next prompt shows of this attempt: its edits, category, summary, trimmed evidence."""
        return {
            "number": str(self.number),
            "category": self.category.value,
            "summary": self.summary,
            "advice": ADVICE.get(self.category, ""),
            "edits": trim(self.edits_text, EDITS_CHARS),
            "evidence": trim(self.evidence, EVIDENCE_CHARS),
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["category"] = self.category.value
        data.pop("diff")
        data.pop("evidence")
        data.pop("edits_text")
        return data


def best(attempts: list[AttemptRecord]) -> AttemptRecord | None:
    """The attempt to keep: a passing one, else the most promising failed one with a diff (latest first)."""
    with_diff = [a for a in attempts if a.diff]
    if not with_diff:
        return None
    return min(reversed(with_diff), key=lambda a: RANK.index(a.category))
