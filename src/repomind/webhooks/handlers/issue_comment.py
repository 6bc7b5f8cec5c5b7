"""``issue_comment``: ``/repomind`` commands on issues and on the bot's PRs."""

from __future__ import annotations

from typing import Any

from repomind.bot.commands import CommandError, Verb, parse
from repomind.bot.options import issue_of_branch
from repomind.bot.render import render
from repomind.bot.triggers import BotContext, allowed, answer, is_bot, start_job
from repomind.webhooks.events import IssueCommentEvent
from repomind.webhooks.handlers.common import where
from repomind.webhooks.router import Router

router = Router("issue_comment", IssueCommentEvent)


@router.register("issue_comment", action="created")
def on_comment(event: IssueCommentEvent, ctx: BotContext) -> None:
    user = event.comment.user
    if is_bot(user.login, user.type, ctx.options) or is_bot(
        event.sender.login, event.sender.type, ctx.options
    ):
        return
    problem: str | None = None
    try:
        command = parse(event.comment.body)
    except CommandError as exc:
        command, problem = None, str(exc)
    if command is None and problem is None:
        return
    thread = event.issue.number
    issue = thread
    if event.issue.is_pull_request:
        pr = ctx.github.get_pull(event.repository.full_name, thread)
        linked = issue_of_branch(pr.head_ref)
        if linked is None:  # somebody else's PR: not ours to act on
            return
        issue = linked
    place = where(event, event.repository, issue=issue, thread=thread, comment=event.comment.id)
    if command is None:
        if allowed(ctx, place, user.login):
            ctx.github.add_reaction(place.repo, "confused", comment_id=event.comment.id)
            ctx.github.create_comment(
                place.repo, thread, render("reply", text=f"I did not understand: {problem}.")
            )
        return
    if not command.verb.starts_job:
        answer(ctx, place, user.login, command)
        return
    args: dict[str, Any] = {}
    if command.verb is Verb.FIX and command.anyway:
        args["anyway"] = True
    elif command.verb is Verb.RETRY and command.argument:
        args["hint"] = command.argument
    elif command.verb is Verb.REVISE:
        args["feedback"] = command.argument
    frozen = None if event.issue.is_pull_request else (event.issue.title, event.issue.body)
    start_job(
        ctx,
        place,
        user=user.login,
        trigger="command",
        command=command.verb.value,
        args=args,
        issue_text=frozen,
    )
