"""The agent's first messages and the reviewer's prompt, rendered from the templates in ``templates/``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from repomind.pipeline.llm import Message
from repomind.pipeline.localise.result import Localisation
from repomind.pipeline.solve.context import FileView
from repomind.pipeline.toolchain.protocol import PromptFacts
from repomind.templating import environment

#: Entries of the repository map (directories with their file counts, then top-level files).
MAP_ENTRIES = 40
#: Characters of one argument value in the reviewer's view of a past step.
TRAIL_ARG_CHARS = 80


def render(name: str, **values: object) -> str:
    return (
        environment("repomind.pipeline.agent", keep_trailing_newline=True).get_template(name).render(**values)
    )


def first_messages(
    issue: str,
    *,
    facts: PromptFacts,
    localisation: Localisation,
    views: Sequence[FileView],
    others: Sequence[str],
    files: Sequence[str],
    instructions: str = "",
    hint: str = "",
    feedback: str = "",
    text_format: str = "",
) -> list[Message]:
    """The system rules (with the text protocol's format when it is used) and the first user message:
    the issue, the repository's instructions, people's words, where to look first, a map of the repository.

    ``issue``, ``hint`` and ``feedback`` must already have their hidden HTML stripped."""
    in_set = set(localisation.set or ())
    ranked = [
        {"path": f.path, "score": round(f.score, 3), "in_set": f.path in in_set}
        for f in localisation.files[: max(len(in_set), 10)]
    ]
    user = render(
        "user.md.j2",
        issue=issue.strip(),
        instructions=instructions,
        hint=hint.strip(),
        feedback=feedback.strip(),
        calibrated=localisation.set is not None,
        confidence_pct=round(localisation.confidence * 100),
        set_size=len(in_set),
        ranked=ranked,
        views=[asdict(v) for v in views],
        others=list(others),
        repo_map=repo_map(files),
    )
    system = render("system.md.j2", facts=facts, text_format=text_format)
    return [{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}]


def repo_map(files: Sequence[str], *, entries: int = MAP_ENTRIES) -> str:
    """A short map: the directories two levels deep with how many files each holds, then top-level files."""
    dirs: Counter[str] = Counter()
    top: list[str] = []
    for path in files:
        parts = path.split("/")
        if len(parts) == 1:
            top.append(path)
        else:
            dirs["/".join(parts[: min(2, len(parts) - 1)]) + "/"] += 1
    lines = [f"{d} ({n} files)" for d, n in sorted(dirs.items())]
    lines += sorted(top)
    if len(lines) > entries:
        lines = [*lines[:entries], f"... and {len(lines) - entries} more entries"]
    return "\n".join(lines) if lines else "(no files)"


def describe_action(tool: str, args: dict[str, Any], *, limit: int | None = None) -> str:
    """``tool(name=value, ...)`` with each value as JSON, cut at ``limit`` characters when given."""
    shown = []
    for key, value in args.items():
        text = json.dumps(value, ensure_ascii=False)
        if limit is not None and len(text) > limit:
            text = text[:limit] + "…"
        shown.append(f"{key}={text}")
    return f"{tool}({', '.join(shown)})"


def review_messages(
    issue: str, trail: Sequence[str], tool: str, args: dict[str, Any], thought: str
) -> list[Message]:
    """The reviewer's conversation: the rules, then the issue, the steps so far and the proposed action."""
    action = describe_action(tool, args)
    if thought.strip():
        action = f"The agent's reasoning: {thought.strip()}\n\nAction: {action}"
    user = render("review_user.md.j2", issue=issue.strip(), trail=list(trail), action=action)
    system = render("review_system.md.j2")
    return [{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}]
