"""Small helpers the handlers share."""

from __future__ import annotations

from repomind.bot.commands.triggers import Where
from repomind.webhooks.events import Event, Repository


def where(
    event: Event, repository: Repository, *, issue: int, thread: int, comment: int | None = None
) -> Where:
    if event.installation is None:
        raise ValueError("a GitHub App delivery carries its installation")
    return Where(
        repo=repository.full_name,
        installation_id=event.installation.id,
        issue_number=issue,
        thread_number=thread,
        comment_id=comment,
    )
