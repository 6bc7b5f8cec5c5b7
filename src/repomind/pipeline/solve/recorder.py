"""The run's files under ``runs/<id>/``, written by a subscriber of the run's events.

Each event becomes the files and the ``trajectory.jsonl`` line that ``docs/trajectory.md`` documents;
:class:`~repomind.pipeline.solve.artifacts.RunArtifacts` redacts everything before it is encoded.
"""

from __future__ import annotations

from typing import Any

from repomind.pipeline.solve.artifacts import RunArtifacts
from repomind.pipeline.solve.events import (
    AgentStarted,
    AttemptStarted,
    BudgetSpent,
    EditFailed,
    EditsRead,
    EnvironmentFailed,
    EnvironmentReady,
    Linted,
    Localised,
    PatchApplied,
    Reflected,
    Replied,
    RunEvent,
    RunFinished,
    RunStarted,
    StepTaken,
    TestsJudged,
    TestsRan,
    run_json,
)

#: The ``run-end`` line's fields, taken from ``report.json``.
RUN_END_FIELDS = (
    "success",
    "verified",
    "stopped",
    "message",
    "attempts",
    "tokens",
    "cost_usd",
    "patch_attempt",
    "categories",
    "strategy",
    "steps",
)


class RunRecorder:
    """Subscribe it to a run's :class:`~repomind.pipeline.solve.events.RunEvents` to keep its files."""

    def __init__(self, artifacts: RunArtifacts) -> None:
        self.artifacts = artifacts

    def __call__(self, event: RunEvent) -> None:
        art = self.artifacts
        match event:
            case RunStarted():
                art.append(
                    "run-start",
                    None,
                    repo=event.repo,
                    commit=event.commit,
                    model=event.model,
                    issue=event.issue,
                    max_attempts=event.max_attempts,
                    budget=event.budget,
                    toolchain=event.toolchain,
                )
            case Localised(localisation=loc):
                art.write_json("localise.json", loc.to_json())
                art.append("localise", None, **loc.to_json())
            case EnvironmentReady():
                art.append("environment", None, image=event.image, cached=event.cached, seconds=event.seconds)
            case EnvironmentFailed():
                art.append("environment", None, error=event.error, output=event.output)
            case AttemptStarted(attempt=n):
                art.write_json(f"attempt-{n}/prompt.json", event.messages)
                art.append("prompt", n, model=event.model, messages=event.messages)
            case Replied(attempt=n):
                art.write_text(f"attempt-{n}/reply.md", event.text)
                art.append(
                    "reply",
                    n,
                    text=event.text,
                    model=event.model,
                    prompt_tokens=event.prompt_tokens,
                    completion_tokens=event.completion_tokens,
                    cost_usd=event.cost_usd,
                    seconds=event.seconds,
                )
            case EditsRead(attempt=n, error=error) if error:
                art.write_json(f"attempt-{n}/edits.json", {"edits": [], "error": error})
                art.append("edits", n, edits=[], error=error)
            case EditsRead(attempt=n):
                art.write_json(f"attempt-{n}/edits.json", {"edits": event.edits})
                art.append("edits", n, edits=event.edits)
            case EditFailed(attempt=n):
                art.append("apply", n, error=event.error, path=event.path, index=event.index)
            case PatchApplied(attempt=n):
                art.append(
                    "apply",
                    n,
                    changed=event.changed,
                    created=event.created,
                    notes=event.notes,
                    refused=event.refused,
                )
                if not event.refused:
                    art.write_text(f"attempt-{n}/patch.diff", event.diff)
            case Linted(attempt=n):
                note = {"formatted": event.formatted} if event.formatted else {}
                art.append("lint", n, problems=event.problems, **note)
                if event.diff:  # the formatter changed the patch: the attempt's patch is the new one
                    art.write_text(f"attempt-{n}/patch.diff", event.diff)
            case TestsRan(attempt=n):
                extra: dict[str, Any] = {} if event.overlay is None else {"overlay": list(event.overlay)}
                art.append("tests", n, phase=event.phase, **extra, **run_json(event.run))
            case TestsJudged(attempt=n):
                art.write_json(f"attempt-{n}/tests.json", event.tests)
                art.write_text(f"attempt-{n}/tests-before.log", event.before_log)
                art.write_text(f"attempt-{n}/tests-after.log", event.after_log)
            case Reflected(record=record):
                art.append(
                    "attempt-end",
                    record.number,
                    category=record.category.value,
                    summary=record.summary,
                    evidence=record.evidence,
                    changed=record.changed,
                    diff=record.diff,
                    verified=record.verified,
                )
            case BudgetSpent(attempt=n):
                art.append("budget-exceeded", n, message=event.message, budget=event.budget)
            case AgentStarted():
                art.write_json("agent/prompt.json", event.messages)
                art.append(
                    "agent-start",
                    None,
                    messages=event.messages,
                    tools=event.tools,
                    protocol=event.protocol,
                    max_steps=event.max_steps,
                    max_prompt_tokens=event.max_prompt_tokens,
                )
            case StepTaken():
                art.append(
                    "step",
                    event.attempt,
                    step=event.step,
                    thought=event.thought,
                    tool=event.tool,
                    args=event.args,
                    observation=event.observation,
                    outcome=event.outcome,
                    review=event.review,
                    prompt_tokens=event.prompt_tokens,
                    completion_tokens=event.completion_tokens,
                    cost_usd=event.cost_usd,
                    seconds=event.seconds,
                    call_id=event.call_id,
                )
            case RunFinished(report=report):
                art.write_text("patch.diff", event.patch)
                data = report.to_json()
                art.write_json("report.json", data)
                art.append("run-end", None, **{k: data[k] for k in RUN_END_FIELDS})
            case _:  # progress only (EnvironmentPreparing, TestsPlanned): no file
                pass
