"""What the agent did, read back from a run directory: its steps for the run page and the status comment,
and a short account (files viewed, searches, tests, edits, verifications, the submit summary) for the PR.

The reader is lenient where the views are live: a line that is not JSON yet (being written) or of another
schema is skipped, so a page that reads a running run's ``trajectory.jsonl`` never fails on it. Every list
in :class:`AgentAccount` is bounded (:data:`LIST_LIMIT` items, each at most :data:`ITEM_CHARS`
characters; the rest is counted), so the PR body stays short whatever the trajectory holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repomind.pipeline.solve.artifacts import READABLE_VERSIONS

#: Items of each list of an account; the rest is counted in ``more``.
LIST_LIMIT = 10
#: Characters of one item (a path, a regex, a test target), and of the submit summary.
ITEM_CHARS = 120
SUMMARY_CHARS = 1_500


@dataclass(frozen=True)
class Step:
    """One ``step`` line of a trajectory (docs/trajectory.md), typed."""

    step: int
    tool: str
    args: dict[str, Any]
    outcome: str
    thought: str = ""
    observation: str = ""
    review: dict[str, Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    seconds: float = 0.0
    attempt: int | None = None
    call_id: str | None = None

    @property
    def rejected(self) -> bool:
        """The reviewer judged the action off track: it did not run."""
        return self.review is not None and self.review.get("right_track") is False

    @property
    def brief(self) -> str:
        """The action's arguments in a few words (:func:`brief_args`)."""
        return brief_args(self.tool, self.args)

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> Step:
        review = line.get("review")
        args = line.get("args")
        return cls(
            step=int(line.get("step") or 0),
            tool=str(line.get("tool") or ""),
            args=args if isinstance(args, dict) else {},
            outcome=str(line.get("outcome") or ""),
            thought=str(line.get("thought") or ""),
            observation=str(line.get("observation") or ""),
            review=review if isinstance(review, dict) else None,
            prompt_tokens=int(line.get("prompt_tokens") or 0),
            completion_tokens=int(line.get("completion_tokens") or 0),
            cost_usd=line.get("cost_usd"),
            seconds=float(line.get("seconds") or 0.0),
            attempt=line.get("attempt"),
            call_id=line.get("call_id"),
        )


def _one_line(value: Any, limit: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def brief_args(tool: str, args: dict[str, Any], limit: int = 80) -> str:
    """An action's arguments compact, on one line: ``search`` its regex (and glob), ``view`` path:line,
    ``edit`` the path, ``run_tests`` the targets (``planned`` when none), ``submit`` nothing."""
    match tool:
        case "search":
            glob = args.get("path_glob")
            text = f"{args.get('regex', '')}" + (f" in {glob}" if glob else "")
        case "view":
            text = f"{args.get('path', '')}:{args.get('line', 1)}"
        case "edit":
            text = str(args.get("path", ""))
        case "run_tests":
            targets = args.get("targets")
            text = " ".join(str(t) for t in targets) if isinstance(targets, list) and targets else "planned"
        case "submit":
            text = ""
        case _:
            text = json.dumps(args, sort_keys=True) if args else ""
    return _one_line(text, limit)


def read_lines(trajectory: Path) -> list[dict[str, Any]]:
    """The trajectory's lines, skipping any that cannot be read (a line being written, another schema)."""
    try:
        raw = trajectory.read_text(errors="replace")
    except OSError:
        return []
    return parse_lines(raw)


def parse_lines(raw: str) -> list[dict[str, Any]]:
    """The readable lines of a trajectory's text (as :func:`read_lines`)."""
    lines = []
    for text in raw.splitlines():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("schema") in READABLE_VERSIONS:
            lines.append(record)
    return lines


def read_steps(run_dir: Path) -> tuple[dict[str, Any] | None, list[Step]]:
    """The ``agent-start`` line (None when the run has none) and the steps of ``run_dir``."""
    return steps_of_lines(read_lines(run_dir / "trajectory.jsonl"))


def steps_of_lines(lines: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[Step]]:
    """The ``agent-start`` line and the steps among a trajectory's ``lines``."""
    start = next((line for line in lines if line.get("type") == "agent-start"), None)
    return start, [Step.from_line(line) for line in lines if line.get("type") == "step"]


@dataclass(frozen=True)
class AgentAccount:
    """What the agent looked at and changed, for the PR body (each list bounded; ``more`` counts the rest
    by list name)."""

    steps: int
    max_steps: int
    verifications: int
    viewed: tuple[str, ...] = ()
    #: ``(regex and glob, outcome)``.
    searches: tuple[tuple[str, str], ...] = ()
    #: ``(targets or "planned", outcome)``.
    tests: tuple[tuple[str, str], ...] = ()
    edited: tuple[str, ...] = ()
    #: Actions the reviewer judged off track (they did not run).
    rejected: int = 0
    #: The last ``submit``'s summary (cut to :data:`SUMMARY_CHARS`).
    summary: str = ""
    more: dict[str, int] = field(default_factory=dict)


def _bounded(items: list[Any], name: str, more: dict[str, int]) -> tuple[Any, ...]:
    if len(items) > LIST_LIMIT:
        more[name] = len(items) - LIST_LIMIT
    return tuple(items[:LIST_LIMIT])


def _json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` when there is none (missing, unreadable, not an object)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def account_of(run_dir: Path) -> AgentAccount | None:
    """The account of an agent run from its ``report.json`` and ``trajectory.jsonl``; None for a run of
    another strategy, or a directory without an agent trajectory."""
    report = _json_object(run_dir / "report.json")
    if report.get("strategy", "agent") != "agent":
        return None
    start, steps = read_steps(run_dir)
    if start is None:
        return None
    viewed: list[str] = []
    edited: list[str] = []
    searches: list[tuple[str, str]] = []
    tests: list[tuple[str, str]] = []
    summary = ""
    for step in steps:
        if step.rejected:
            continue
        item = _one_line(step.brief, ITEM_CHARS)
        outcome = _one_line(step.outcome, ITEM_CHARS)
        path = _one_line(step.args.get("path", ""), ITEM_CHARS)
        if step.tool == "view" and path and path not in viewed:
            viewed.append(path)
        elif step.tool == "edit" and path and step.outcome.startswith("applied") and path not in edited:
            edited.append(path)
        elif step.tool == "search":
            searches.append((item, outcome))
        elif step.tool == "run_tests":
            tests.append((item, outcome))
        elif step.tool == "submit":
            summary = str(step.args.get("summary") or "").strip()
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1] + "…"
    more: dict[str, int] = {}
    return AgentAccount(
        steps=int(report.get("steps", len(steps))),
        max_steps=int(start.get("max_steps") or 0),
        verifications=int(report.get("attempts", sum(1 for s in steps if s.attempt is not None))),
        viewed=_bounded(viewed, "viewed", more),
        searches=_bounded(searches, "searches", more),
        tests=_bounded(tests, "tests", more),
        edited=_bounded(edited, "edited", more),
        rejected=sum(1 for s in steps if s.rejected),
        summary=summary,
        more=more,
    )
