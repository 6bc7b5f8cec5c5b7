"""The patch prompt, rendered from the template files in ``templates/``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import jinja2

from repomind.pipeline.llm import Message
from repomind.pipeline.solve.context import FileView
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.toolchain.protocol import PromptFacts
from repomind.templating import environment


def _environment() -> jinja2.Environment:
    return environment("repomind.pipeline.solve", keep_trailing_newline=True)


def render(name: str, **values: object) -> str:
    return _environment().get_template(name).render(**values)


def system_text(facts: PromptFacts) -> str:
    """The system rules, in the terms of the repository's language (:class:`PromptFacts`)."""
    return render("system.md.j2", facts=facts).strip()


def patch_messages(
    issue: str,
    files: Sequence[FileView],
    *,
    facts: PromptFacts,
    instructions: str = "",
    others: Sequence[str] = (),
    attempts: Sequence[AttemptRecord] = (),
    hint: str = "",
    feedback: str = "",
) -> list[Message]:
    """The conversation for one attempt: the system rules, then the issue, files and earlier attempts.

    ``issue``, ``hint`` and ``feedback`` must already have their hidden HTML stripped
    (:func:`repomind.pipeline.issue.strip_hidden`). ``hint`` is a maintainer's ``retry`` hint;
    ``feedback`` is their review of the patch already on the branch (``revise``). ``facts`` are the
    repository's toolchain's (the language, its code fence, its test framework).
    """
    user = render(
        "user.md.j2",
        issue=issue.strip(),
        instructions=instructions,
        files=[asdict(f) for f in files],
        others=list(others),
        attempts=[a.for_prompt() for a in attempts],
        hint=hint.strip(),
        feedback=feedback.strip(),
    )
    return [
        {"role": "system", "content": system_text(facts)},
        {"role": "user", "content": user.strip()},
    ]
