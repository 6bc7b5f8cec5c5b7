"""``issue_comment``: ``/repomind`` commands on issues and on the bot's PRs."""

from __future__ import annotations

from repomind.bot.commands.grammar import Command, CommandError, parse
from repomind.bot.commands.triggers import (
    BotContext,
    Where,
    allowed,
    answer,
    bot_pull_issue,
    is_bot,
    start_job,
)
from repomind.bot.render import render, text
from repomind.webhooks.events import IssueCommentEvent, User
from repomind.webhooks.handlers.common import where
from repomind.webhooks.router import Router

router = Router("issue_comment", IssueCommentEvent)


@router.register("issue_comment", action="created")
def on_comment(event: IssueCommentEvent, ctx: BotContext) -> None:
    user = event.comment.user
    found = command_in(ctx, event.comment.body, user, event.sender)
    if found is None:
        return
    command, problem = found
    thread = event.issue.number
    issue = thread
    if event.issue.is_pull_request:
        linked = bot_pull_issue(ctx, event.repository.full_name, thread)
        if linked is None:  # somebody else's PR (or a fork's), whatever its branch is called
            return
        issue = linked
    place = where(event, event.repository, issue=issue, thread=thread, comment=event.comment.id)
    frozen = None if event.issue.is_pull_request else (event.issue.title, event.issue.body)
    run_command(ctx, place, user.login, command, problem, issue_text=frozen)


def command_in(
    ctx: BotContext, body: str, author: User, sender: User
) -> tuple[Command | None, str | None] | None:
    """The ``/repomind`` command in a comment by a person, or why it did not parse; None when the
    comment is a bot's (the bot's own included) or holds no command."""
    if is_bot(author.login, author.type, ctx.options) or is_bot(sender.login, sender.type, ctx.options):
        return None
    try:
        command = parse(body)
    except CommandError as exc:
        return None, str(exc)
    return None if command is None else (command, None)


def run_command(
    ctx: BotContext,
    place: Where,
    user: str,
    command: Command | None,
    problem: str | None,
    *,
    issue_text: tuple[str, str | None] | None = None,
) -> None:
    """A parsed ``/repomind`` line (or the reason it did not parse), from an issue, a PR or a review
    thread: permission first, then the answer or the job. ``issue_text`` is the issue's title and body as
    the event carried them, frozen with the job (None on a PR: the job reads it from the API)."""
    if command is None:
        if allowed(ctx, place, user):
            if place.comment_id is not None:
                ctx.github.add_reaction(place.repo, "confused", comment_id=place.comment_id)
            answer_text = text("answer", kind="not-understood", problem=problem)
            ctx.github.create_comment(place.repo, place.thread_number, render("reply", text=answer_text))
        return
    if not command.verb.starts_job:
        answer(ctx, place, user, command)
        return
    start_job(
        ctx,
        place,
        user=user,
        trigger="command",
        command=command.verb.value,
        args=command.job_args(),
        issue_text=issue_text,
    )
