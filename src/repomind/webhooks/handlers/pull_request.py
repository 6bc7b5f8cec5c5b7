"""``pull_request``: a bot PR closed (merged or not) becomes feedback for the training queue."""

from __future__ import annotations

from repomind.bot import feedback
from repomind.bot.commands.triggers import BotContext
from repomind.webhooks.events import PullRequestEvent
from repomind.webhooks.router import Router

router = Router("pull_request", PullRequestEvent)


@router.register("pull_request", action="closed")
def on_closed(event: PullRequestEvent, ctx: BotContext) -> None:
    pr = event.pull_request
    feedback.record(ctx, event.repository.full_name, pr.number, head_ref=pr.head.ref, merged=pr.was_merged)
