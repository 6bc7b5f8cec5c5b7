"""``pull_request.closed`` on a bot PR: record merged or not, the bot's diff, the merged diff (with the
maintainers' edits) and the review comments, then tell the training queue."""

from __future__ import annotations

from repomind.bot.commands.options import issue_of_branch
from repomind.bot.commands.triggers import BotContext
from repomind.store import JobState
from repomind.store import feedback as feedback_store
from repomind.store.queue import Kind


def record(ctx: BotContext, repo: str, pr_number: int, *, head_ref: str, merged: bool) -> int | None:
    """The feedback id, or None when the PR is not one of the bot's."""
    issue_number = issue_of_branch(head_ref)
    if issue_number is None:
        return None
    jobs = [
        j
        for j in ctx.ledger.jobs_for_issue(repo, issue_number)
        if j.pr_number == pr_number and j.state is JobState.SUCCEEDED
    ]
    if not jobs:
        ctx.log.info("closed PR has no job of ours", pr=pr_number)
        return None
    last = jobs[-1]
    issue = ctx.github.get_issue(repo, issue_number)
    comments = [
        {"id": c.id, "author": c.author, "path": c.path, "line": c.line, "body": c.body}
        for c in ctx.github.list_review_comments(repo, pr_number)
    ]
    result = last.result or {}
    feedback_id, created = feedback_store.save(
        ctx.ledger,
        feedback_store.FeedbackRecord(
            repo=repo,
            pr_number=pr_number,
            merged=merged,
            installation_id=last.installation_id,
            issue_number=issue_number,
            job_id=last.id,
            issue_title=issue.title,
            issue_body=issue.body,
            bot_diff=last.bot_diff,
            merged_diff=ctx.github.get_pull_diff(repo, pr_number) if merged else None,
            review_comments=comments,
            cost_usd=result.get("cost_usd"),
        ),
    )
    ctx.queue.enqueue(Kind.TRAINING_READY, feedback_id)
    ctx.log.info("feedback recorded", pr=pr_number, merged=merged, created=created)
    return feedback_id
