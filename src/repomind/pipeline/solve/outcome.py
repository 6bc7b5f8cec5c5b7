"""The one outcome vocabulary of a run, shared by the pipeline, the bot, the trajectory and the templates.

- :class:`Category`: how one attempt ended (also a test verdict's category).
- :class:`Stopped`: why a run stopped.
- :class:`OutcomeStatus`: what the bot does with the run (push a PR, report, ask for a hint, cancel).

Each value is the spelling written to ``report.json``, ``trajectory.jsonl`` and the job's ``result``.
"""

from __future__ import annotations

import enum


class Category(enum.StrEnum):
    """How an attempt ended. Only ``PASSED`` is a success; ``UNVERIFIED`` is explicitly not one."""

    PASSED = "passed"
    NO_EDITS = "no-edits"  # the reply held no edit in a format Repomind reads
    EDIT_NOT_APPLIED = "edit-not-applied"  # an edit's SEARCH text was not found, or was ambiguous
    EMPTY_PATCH = "empty-patch"  # the edits changed nothing
    SYNTAX_ERROR = "syntax-error"
    UNDEFINED_NAME = "undefined-name"
    IMPORT_ERROR = "import-error"
    TEST_FAILURE = "test-failure"  # the tests still fail
    REGRESSION = "regression"  # a test that passed before fails after
    TIMEOUT = "timeout"
    ENVIRONMENT_ERROR = "environment-error"  # the tests could not run even on the unpatched code
    UNVERIFIED = "unverified"  # nothing broke, but no test went from failing to passing
    PROTECTED_PATH = "protected-path"  # the edits changed a protected or ignored path: refused, not tested


class Stopped(enum.StrEnum):
    """Why a run stopped (``report.json`` ``stopped``)."""

    PASSED = "passed"
    ATTEMPTS_EXHAUSTED = "attempts-exhausted"
    BUDGET = "budget"
    LLM_ERROR = "llm-error"
    ENVIRONMENT_ERROR = "environment-error"
    #: The calibrated set is wider than ``max_set_size``: a hint is needed before spending the budget.
    NEEDS_HINT = "needs-hint"
    CANCELLED = "cancelled"
    #: The agent used ``max_steps`` actions without a verified submission.
    STEP_LIMIT = "step-limit"
    #: The agent repeated one action after being told it had (``repomind.pipeline.agent``).
    REPEATED = "repeated-action"

    @property
    def status(self) -> OutcomeStatus:
        """The run's status when it stopped this way without a passing patch."""
        return _STATUS.get(self, OutcomeStatus.FAILED)


class OutcomeStatus(enum.StrEnum):
    """The run's final status, as the bot acts on it (the job's ``result`` ``status``)."""

    SUCCESS = "success"  # an attempt passed: the outcome's ``diff`` is the patch
    FAILED = "failed"  # no attempt passed within the budget
    NEEDS_HINT = "needs-hint"  # the calibrated set is wider than max_set_size and ``anyway`` was not given
    CANCELLED = "cancelled"

    @classmethod
    def _missing_(cls, value: object) -> OutcomeStatus | None:
        # Job results recorded before the vocabularies were one spelled it with an underscore.
        return cls.NEEDS_HINT if value == "needs_hint" else None


_STATUS = {Stopped.NEEDS_HINT: OutcomeStatus.NEEDS_HINT, Stopped.CANCELLED: OutcomeStatus.CANCELLED}
