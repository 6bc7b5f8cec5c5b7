"""The API's request and response bodies (pydantic), so that ``/openapi.json`` says what each route takes
and gives."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

#: ``owner/name`` as GitHub allows them.
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
#: GitHub's own limit on an issue's title, and on a body.
TITLE_CHARS = 256
BODY_CHARS = 65_536


class RunCreate(BaseModel):
    """An installed repository and either an issue number (the issue exists) or an issue text (the bot
    opens the issue first)."""

    repository: str = Field(pattern=REPOSITORY.pattern, examples=["acme/calc"])
    issue: int | None = Field(default=None, ge=1, description="an open issue of the repository")
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_CHARS)
    body: str | None = Field(default=None, max_length=BODY_CHARS)

    @model_validator(mode="after")
    def _one_form(self) -> RunCreate:
        if (self.issue is None) == (self.title is None):
            raise ValueError("give either an issue number, or a title (and body) for a new issue")
        if self.issue is not None and self.body is not None:
            raise ValueError("a body goes with a title (a new issue), not with an issue number")
        return self


class RunCreated(BaseModel):
    id: int
    url: str
    issue: int


class RunSummary(BaseModel):
    """One row of the runs list."""

    id: int
    repository: str
    issue: int
    trigger: str
    requested_by: str
    command: str
    state: str
    strategy: str
    attempts: int
    tokens: int | None
    cost_usd: float | None
    created_at: datetime
    duration_s: float | None
    pull_request: int | None
    url: str


class RunList(BaseModel):
    runs: list[RunSummary]
    page: int
    pages: int
    total: int


class RankedFileOut(BaseModel):
    path: str
    score: float
    in_set: bool


class AttemptOut(BaseModel):
    number: int
    outcome: str
    summary: str
    tests_passed: int
    tests_failed: int
    tests_skipped: int
    tokens: int
    cost_usd: float | None
    diff: str


class StepOut(BaseModel):
    step: int
    tool: str
    outcome: str
    verdict: str
    feedback: str


class RunDetail(RunSummary):
    """A run with what it found and did; every text is redacted."""

    branch: str | None
    error: str | None
    confidence: float | None
    calibration: dict[str, Any]
    files: list[RankedFileOut]
    set: list[str] | None
    attempts_detail: list[AttemptOut]
    steps: list[StepOut]
    diff: str
    evidence: dict[str, Any]
    summary: str


class CancelAnswer(BaseModel):
    id: int
    state: str
    cancel_requested: bool
