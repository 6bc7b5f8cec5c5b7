"""``pull_request_review``: "changes requested" on a bot PR starts a revision with the review as feedback."""

from __future__ import annotations

from repomind.bot.commands.options import issue_of_branch
from repomind.bot.commands.triggers import BotContext, bot_pull_issue, is_bot, start_job
from repomind.webhooks.events import PullRequestReviewEvent
from repomind.webhooks.handlers.common import where
from repomind.webhooks.router import Router

router = Router("pull_request_review", PullRequestReviewEvent)


@router.register("pull_request_review", action="submitted")
def on_review(event: PullRequestReviewEvent, ctx: BotContext) -> None:
    review, pr = event.review, event.pull_request
    if review.state.lower() != "changes_requested":
        return
    if issue_of_branch(pr.head.ref) is None or is_bot(event.sender.login, event.sender.type, ctx.options):
        return
    repo = event.repository.full_name
    issue = bot_pull_issue(ctx, repo, pr.number)  # the app's PR from this repository, not a look-alike
    if issue is None:
        return
    notes = [
        f"- `{c.path}`{f' line {c.line}' if c.line else ''}: {c.body}"
        for c in ctx.github.list_review_comments(repo, pr.number)
        if c.review_id == review.id
    ]
    feedback = "\n".join(part for part in [review.body or "", *notes] if part.strip())
    start_job(
        ctx,
        where(event, event.repository, issue=issue, thread=pr.number),
        user=event.sender.login,
        trigger="review",
        command="revise",
        args={"feedback": feedback or "Changes were requested in a review.", "review_id": review.id},
    )
