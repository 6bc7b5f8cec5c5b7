"""Examples from the pipeline's own runs (``runs/<id>/``) joined with what maintainers did with the PR.

* merged unchanged: the kept attempt's prompt and reply (supervised; a KTO positive);
* merged with the maintainers' edits: the kept attempt's prompt with the *merged* diff as the target, and
  a pair that prefers it to the bot's own reply;
* closed unmerged: the kept attempt's reply as a KTO negative;
* attempts that failed in the run: KTO negatives, and a pair (the first attempt's prompt, the accepted
  answer chosen, the failed reply rejected);
* runs no maintainer has seen (``include_unreviewed``): a verified passing attempt counts as accepted.

An agent run (a schema-2 trajectory with an ``agent-start`` line) gives multi-turn tool trajectories
instead: :mod:`repomind.training.from_agent`. Schema-1 files read as before.

A feedback row whose run directory cannot be found still gives an example: the issue alone as the prompt
(the pipeline's system prompt, no files) and the diff as the target.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from repomind.pipeline.solve.artifacts import parse_trajectory
from repomind.pipeline.solve.prompts import patch_messages
from repomind.pipeline.toolchain.python import FACTS
from repomind.store.artifacts import Artifacts, text_of
from repomind.training.examples import (
    Example,
    Message,
    Paired,
    Supervised,
    Unpaired,
    same_patch,
    target_text,
)
from repomind.training.from_agent import AgentView, agent_view, examples_from_agent


@dataclass
class AttemptView:
    number: int
    messages: list[Message]
    reply: str
    category: str
    diff: str
    verified: bool


@dataclass
class RunView:
    """What training needs from one run directory."""

    path: Path
    run_id: str
    repo: str
    issue: str
    success: bool
    patch_attempt: int | None
    attempts: dict[int, AttemptView] = field(default_factory=dict)
    #: The agent's trajectory (None for a pipeline run).
    agent: AgentView | None = None

    @property
    def kept(self) -> AttemptView | None:
        return self.attempts.get(self.patch_attempt) if self.patch_attempt is not None else None


@dataclass(frozen=True)
class FeedbackView:
    """A feedback row, as plain data (the store's :class:`~repomind.store.models.Feedback` fields)."""

    repo: str
    pr_number: int
    merged: bool
    issue_number: int | None
    issue_title: str
    issue_body: str
    bot_diff: str | None
    merged_diff: str | None
    job_id: int | None = None
    run_hint: str | None = None

    @property
    def issue_key(self) -> str:
        return f"{self.repo}#{self.issue_number if self.issue_number is not None else self.pr_number}"


class RunFiles(Protocol):
    """Where a run's files are read from: its directory on this host (:class:`DirFiles`), or the shared
    artifacts store (:class:`StoredFiles`, what a worker on any host uploaded)."""

    @property
    def key(self) -> str: ...

    @property
    def path(self) -> Path: ...

    def text(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class DirFiles:
    directory: Path

    @property
    def key(self) -> str:
        return f"dir:{self.directory.resolve()}"

    @property
    def path(self) -> Path:
        return self.directory

    def text(self, name: str) -> str | None:
        file = self.directory / name
        return file.read_text() if file.is_file() else None


@dataclass(frozen=True)
class StoredFiles:
    artifacts: Artifacts
    run_id: str

    @property
    def key(self) -> str:
        return f"run:{self.run_id}"

    @property
    def path(self) -> Path:
        return Path(self.run_id)

    def text(self, name: str) -> str | None:
        return text_of(self.artifacts, self.run_id, name)


def read_run(source: Path | RunFiles) -> RunView:
    """A run as written by ``repomind solve`` (or a worker): its directory or its stored files; ValueError
    when it is not one."""
    files: RunFiles = DirFiles(source) if isinstance(source, Path) else source
    path = files.path
    trajectory = files.text("trajectory.jsonl")
    if trajectory is None:
        raise ValueError(f"{path} has no trajectory.jsonl")
    events = parse_trajectory(trajectory, str(path / "trajectory.jsonl"))
    report: dict[str, Any] = {}
    report_text = files.text("report.json")
    if report_text is not None:
        report = json.loads(report_text)
    start = next((e for e in events if e["type"] == "run-start"), {})
    end = next((e for e in events if e["type"] == "run-end"), {})
    run = RunView(
        path=path,
        run_id=str(start.get("run") or path.name),
        repo=str(start.get("repo", "")),
        issue=str(start.get("issue", "")),
        success=bool(report.get("success", end.get("success", False))),
        patch_attempt=report.get("patch_attempt", end.get("patch_attempt")),
        agent=agent_view(events),
    )
    by_attempt: dict[int, dict[str, Any]] = {}
    for event in events:
        number = event.get("attempt")
        if number is None:
            continue
        slot = by_attempt.setdefault(int(number), {})
        if event["type"] == "prompt":
            slot["messages"] = event.get("messages", [])
        elif event["type"] == "reply":
            slot["reply"] = event.get("text", "")
        elif event["type"] == "attempt-end":
            slot.update(category=event.get("category", ""), diff=event.get("diff") or "")
            slot["verified"] = bool(event.get("verified", False))
    for number, slot in by_attempt.items():
        if "messages" not in slot or "reply" not in slot:
            continue
        prompt_text = None if slot["messages"] else files.text(f"attempt-{number}/prompt.json")
        messages = slot["messages"] or (json.loads(prompt_text) if prompt_text is not None else [])
        diff = slot.get("diff") or files.text(f"attempt-{number}/patch.diff") or ""
        run.attempts[number] = AttemptView(
            number, messages, slot["reply"], slot.get("category", ""), diff, slot.get("verified", False)
        )
    return run


def _assistant(text: str) -> list[Message]:
    return [{"role": "assistant", "content": text}]


def issue_key(run: RunView) -> str:
    """A run's issue key when no feedback names it: the repository and a digest of the issue text."""
    digest = hashlib.sha256(run.issue.strip().encode()).hexdigest()[:12]
    return f"{run.repo or 'local'}@{digest}"


def examples_from_run(
    run: RunView, feedback: FeedbackView | None, *, include_unreviewed: bool = False
) -> list[Example]:
    """The examples one run gives, labelled by its feedback (see the module's docstring)."""
    if run.agent is not None:
        return examples_from_agent(run, run.agent, feedback, include_unreviewed=include_unreviewed)
    kept = run.kept
    if kept is None or not kept.messages:
        return []
    issue = feedback.issue_key if feedback is not None else issue_key(run)
    meta = {"run": run.run_id, "attempt": kept.number}
    out: list[Example] = []
    accepted: str | None = None
    if feedback is not None and feedback.merged:
        merged = feedback.merged_diff or ""
        edited = bool(merged.strip()) and not (
            merged.strip() == (feedback.bot_diff or kept.diff).strip() or same_patch(merged, kept.diff)
        )
        target = target_text(merged) if edited else kept.reply
        if target:
            accepted = target
            source = "accepted-edited" if edited else "accepted"
            meta = {**meta, "pr": feedback.pr_number}
            out.append(Supervised(issue, source, [*kept.messages, *_assistant(target)], meta))
            out.append(Unpaired(issue, source, kept.messages, _assistant(target), True, meta))
            if edited:
                out.append(
                    Paired(
                        issue, "edited-pair", kept.messages, _assistant(target), _assistant(kept.reply), meta
                    )
                )
    elif feedback is not None:
        meta = {**meta, "pr": feedback.pr_number}
        out.append(Unpaired(issue, "rejected", kept.messages, _assistant(kept.reply), False, meta))
    elif include_unreviewed and run.success and kept.verified:
        accepted = kept.reply
        out.append(Supervised(issue, "verified-run", [*kept.messages, *_assistant(kept.reply)], meta))
        out.append(Unpaired(issue, "verified-run", kept.messages, _assistant(kept.reply), True, meta))
    if feedback is None and not include_unreviewed:
        return out
    for attempt in sorted(run.attempts.values(), key=lambda a: a.number):
        if attempt.number == kept.number or attempt.category == "passed" or not attempt.reply.strip():
            continue
        a_meta = {"run": run.run_id, "attempt": attempt.number, "category": attempt.category}
        out.append(
            Unpaired(issue, "failed-attempt", attempt.messages, _assistant(attempt.reply), False, a_meta)
        )
        if accepted is not None and attempt.number == min(run.attempts):
            out.append(
                Paired(
                    issue,
                    "attempt-pair",
                    attempt.messages,
                    _assistant(accepted),
                    _assistant(attempt.reply),
                    a_meta,
                )
            )
    return out


def examples_from_feedback_only(feedback: FeedbackView) -> list[Example]:
    """A feedback row without its run: the issue as the prompt, the (merged or bot) diff as the target."""
    issue_text = f"{feedback.issue_title}\n\n{feedback.issue_body}".strip()
    prompt: list[Message] = [
        {"role": m["role"], "content": m["content"]} for m in patch_messages(issue_text, [], facts=FACTS)
    ]
    meta = {"pr": feedback.pr_number, "run": None}
    if feedback.merged:
        target = target_text(feedback.merged_diff or feedback.bot_diff or "")
        if target is None:
            return []
        return [
            Supervised(feedback.issue_key, "accepted-issue-only", [*prompt, *_assistant(target)], meta),
            Unpaired(feedback.issue_key, "accepted-issue-only", prompt, _assistant(target), True, meta),
        ]
    target = target_text(feedback.bot_diff or "")
    if target is None:
        return []
    return [Unpaired(feedback.issue_key, "rejected-issue-only", prompt, _assistant(target), False, meta)]
