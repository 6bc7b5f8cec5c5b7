"""``issues``: the trigger label (default ``repomind``, or the repository's ``label``) starts a job;
closing the issue or removing the label cancels its queued and running jobs."""

from __future__ import annotations

from repomind.bot.commands import triggers
from repomind.bot.commands.triggers import BotContext, cancel_jobs, is_bot, start_job
from repomind.bot.github import protocol as gh_types
from repomind.webhooks.events import IssuesEvent
from repomind.webhooks.handlers.common import where
from repomind.webhooks.router import Router

router = Router("issues", IssuesEvent)


def trigger_label(event: IssuesEvent, ctx: BotContext) -> str:
    repo = event.repository
    return triggers.trigger_label(
        ctx, gh_types.Repository(repo.full_name, repo.default_branch, repo.clone_url, repo.html_url)
    )


@router.register("issues", action="labeled")
def on_labeled(event: IssuesEvent, ctx: BotContext) -> None:
    if event.label is None or event.issue.is_pull_request:
        return
    if is_bot(event.sender.login, event.sender.type, ctx.options):
        return
    if event.label.name != trigger_label(event, ctx):
        return
    n = event.issue.number
    start_job(
        ctx,
        where(event, event.repository, issue=n, thread=n),
        user=event.sender.login,
        trigger="label",
        command="fix",
        args={},
        issue_text=(event.issue.title, event.issue.body),  # the text the maintainer saw when labelling
    )


@router.register("issues", action="closed")
def on_closed(event: IssuesEvent, ctx: BotContext) -> None:
    if event.issue.is_pull_request:
        return
    jobs = cancel_jobs(ctx, event.repository.full_name, event.issue.number, why="closed")
    if jobs:
        ctx.log.info("issue closed: jobs cancelled", jobs=[j.id for j in jobs])


@router.register("issues", action="unlabeled")
def on_unlabeled(event: IssuesEvent, ctx: BotContext) -> None:
    if event.label is None or event.issue.is_pull_request:
        return
    if event.label.name != trigger_label(event, ctx):
        return
    jobs = cancel_jobs(
        ctx, event.repository.full_name, event.issue.number, why="unlabeled", label=event.label.name
    )
    if jobs:
        ctx.log.info("label removed: jobs cancelled", jobs=[j.id for j in jobs])


@router.register("issues", action="edited")
def on_edited(event: IssuesEvent, ctx: BotContext) -> None:
    """An edit after a trigger is ignored by the runs already asked for; their status says who edited."""
    if event.issue.is_pull_request or is_bot(event.sender.login, event.sender.type, ctx.options):
        return
    changed = ctx.ledger.issue_edited(event.repository.full_name, event.issue.number, event.sender.login)
    if changed:
        ctx.log.info("issue edited after its trigger: the edit is ignored", jobs=changed)
