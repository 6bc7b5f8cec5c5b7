"""``pull_request_review_comment``: ``/repomind`` commands in the inline review threads of the bot's PRs."""

from __future__ import annotations

from repomind.bot.commands.triggers import BotContext, bot_pull_issue
from repomind.webhooks.events import PullRequestReviewCommentEvent
from repomind.webhooks.handlers.common import where
from repomind.webhooks.handlers.issue_comment import command_in, run_command
from repomind.webhooks.router import Router

router = Router("pull_request_review_comment", PullRequestReviewCommentEvent)


@router.register("pull_request_review_comment", action="created")
def on_review_comment(event: PullRequestReviewCommentEvent, ctx: BotContext) -> None:
    user = event.comment.user
    found = command_in(ctx, event.comment.body, user, event.sender)
    if found is None:
        return
    command, problem = found
    pr = event.pull_request
    issue = bot_pull_issue(ctx, event.repository.full_name, pr.number)
    if issue is None:  # somebody else's PR (or a fork's), whatever its branch is called
        return
    # A review comment's reactions live elsewhere than an issue comment's: the 👀 goes on the PR.
    run_command(
        ctx, where(event, event.repository, issue=issue, thread=pr.number), user.login, command, problem
    )
