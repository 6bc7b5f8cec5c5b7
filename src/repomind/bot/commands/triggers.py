"""What a trigger does: check permission, open (or find) the job, react 👀, post the status comment,
enqueue. Also the commands that only answer (files, explain, status, help, include, exclude, cancel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repomind import repoconfig
from repomind.bot.commands.grammar import Command, Verb
from repomind.bot.commands.options import BotOptions, issue_of_branch
from repomind.bot.github.protocol import WRITE_LEVELS, GitHub, Repository, is_bot_pull
from repomind.bot.render import render, text
from repomind.bot.solving.pipeline_port import PipelineOutcome
from repomind.bot.status import StatusComment, StatusView
from repomind.compose.config import resolve
from repomind.errors import ConfigError
from repomind.store import Job, JobRequest, Ledger
from repomind.store.limits import usage
from repomind.store.queue import Kind, Queue


@dataclass(frozen=True)
class BotContext:
    """What a webhook handler gets: the installation's GitHub client, the queue, the ledger, a logger."""

    github: GitHub
    queue: Queue
    ledger: Ledger
    options: BotOptions
    log: Any
    delivery_id: str | None = None


@dataclass(frozen=True)
class Where:
    """The thread a trigger came from: the issue (or PR) and, for commands, the comment."""

    repo: str
    installation_id: int
    issue_number: int
    thread_number: int
    comment_id: int | None = None


def trigger_label(ctx: BotContext, repo: Repository) -> str:
    """The label that starts a run on ``repo``: its config's ``label``, else the server's. An invalid
    config counts as none here (the job it starts reports what is wrong)."""
    try:
        config = repoconfig.read_default_branch(ctx.github, repo.full_name, repo.default_branch)
    except ConfigError:
        config = None
    return resolve(ctx.options.defaults, config).label


def is_bot(login: str, user_type: str, options: BotOptions) -> bool:
    """Bots, the app itself included, never trigger anything."""
    return user_type == "Bot" or login.endswith("[bot]") or login == options.login


def bot_pull_issue(ctx: BotContext, repo: str, number: int) -> int | None:
    """The issue PR ``number`` works on when it is the bot's own PR (opened by the app from a branch
    of ``repo``), else None: a person's PR or a fork's is not ours, whatever its branch is called."""
    pr = ctx.github.get_pull(repo, number)
    if not is_bot_pull(pr, repo, ctx.options.login):
        return None
    return issue_of_branch(pr.head_ref)


def allowed(ctx: BotContext, where: Where, user: str) -> bool:
    """Write, maintain or admin on the repository; everyone else gets a short polite refusal."""
    permission = ctx.github.get_permission(where.repo, user)
    if permission in WRITE_LEVELS:
        return True
    ctx.log.info("trigger refused", user=user, permission=permission)
    ctx.github.create_comment(where.repo, where.thread_number, render("refusal", user=user))
    return False


def react(ctx: BotContext, where: Where) -> None:
    if where.comment_id is not None:
        ctx.github.add_reaction(where.repo, "eyes", comment_id=where.comment_id)
    else:
        ctx.github.add_reaction(where.repo, "eyes", issue_number=where.thread_number)


def start_job(
    ctx: BotContext,
    where: Where,
    *,
    user: str,
    trigger: str,
    command: str,
    args: dict[str, Any],
    issue_text: tuple[str, str | None] | None = None,
    permitted: bool = False,
) -> Job | None:
    """Permission, then one job per intent: a repeat of an active intent adds nothing but 👀.

    The issue's text is frozen here, when the trigger is accepted: ``issue_text`` (title, body) as the
    signed webhook payload carried it, else as the API gives it now. A later edit (by anyone) is ignored.
    ``permitted``: the caller checked the permission itself (the web API: the operator, or a signed-in
    person with write access).
    """
    if not permitted and not allowed(ctx, where, user):
        return None
    if issue_text is None:
        current = ctx.github.get_issue(where.repo, where.issue_number)
        issue_text = (current.title, current.body)
    job, created = ctx.ledger.open_job(
        JobRequest(
            repo=where.repo,
            installation_id=where.installation_id,
            issue_number=where.issue_number,
            thread_number=where.thread_number,
            trigger=trigger,
            command=command,
            args=args,
            requested_by=user,
            delivery_id=ctx.delivery_id,
            issue_title=issue_text[0],
            issue_body=issue_text[1] or "",
        )
    )
    react(ctx, where)
    retried = ctx.delivery_id is not None and job.delivery_id == ctx.delivery_id
    if not created and not retried:
        ctx.log.info("trigger joined an active job", job=job.id)
        return job
    # A new job, or this delivery's own job from a try that failed before it was enqueued: finish the
    # steps (the status comment is found again by its marker; a second enqueue is harmless).
    ahead = [j for j in ctx.ledger.jobs_for_issue(where.repo, where.issue_number) if j.state.active]
    status = StatusComment(
        ctx.github, ctx.ledger, job, run_url=ctx.options.run_url(job.id), login=ctx.options.login
    )
    waiting = [j.id for j in ahead if j.id < job.id]
    status.view = StatusView(
        headline=text("headline", ending="queued"),
        stage=text("stage", step="queued", behind=waiting[0] if waiting else None),
    )
    status.ensure()
    ctx.queue.enqueue(Kind.RUN_JOB, job.id)
    ctx.log.info("job opened", job=job.id, command=command)
    return job


def answer(ctx: BotContext, where: Where, user: str, command: Command) -> None:
    """The commands that only answer or change pins; they need the same permission as the others."""
    if not allowed(ctx, where, user):
        return
    react(ctx, where)
    jobs = ctx.ledger.jobs_for_issue(where.repo, where.issue_number)
    latest = jobs[-1] if jobs else None
    outcome = PipelineOutcome.from_json(latest.result) if latest and latest.result else None
    verb = command.verb
    if verb is Verb.HELP:
        body = render("reply", text=text("answer", kind="help"))
    elif verb is Verb.STATUS:
        include, exclude = ctx.ledger.pins(where.repo, where.issue_number)
        limits = ctx.options.limits
        mine = [u for u in usage(ctx.ledger, limits) if u.installation_id == where.installation_id]
        body = render(
            "issue_status",
            jobs=jobs,
            limits=mine[0] if mine and (limits.max_concurrent_jobs or limits.monthly_budget_usd) else None,
            label=trigger_label(ctx, ctx.github.get_repository(where.repo)),
            includes=include,
            excludes=exclude,
        )
    elif verb is Verb.EXPLAIN:
        body = render("explain", job=latest, outcome=outcome)
    elif verb is Verb.FILES:
        loc = outcome.localisation if outcome else None
        if loc is None:
            body = render("reply", text=text("answer", kind="no-files"))
        else:
            body = render("files", loc=loc)
    elif verb in (Verb.INCLUDE, Verb.EXCLUDE):
        pinned_in = verb is Verb.INCLUDE
        ctx.ledger.pin(where.repo, where.issue_number, command.argument, include=pinned_in)
        body = render("reply", text=text("answer", kind="pinned", path=command.argument, include=pinned_in))
    elif verb is Verb.CANCEL:
        cancelled = cancel_jobs(ctx, where.repo, where.issue_number)
        body = render("reply", text=text("answer", kind="cancelling", jobs=[j.id for j in cancelled]))
    else:  # pragma: no cover - job commands are routed to start_job
        raise ValueError(f"{verb} starts a job")
    ctx.github.create_comment(where.repo, where.thread_number, body)


def cancel_jobs(
    ctx: BotContext, repo: str, issue_number: int, *, why: str = "", label: str = ""
) -> list[Job]:
    """Cancel the issue's active jobs: queued ones at once (their status comment says so), running ones
    at their next stage boundary. ``why``: ``closed``, ``unlabeled`` (``label`` removed) or on request."""
    cancelled = ctx.ledger.request_cancel(repo, issue_number)
    for job in cancelled:
        if job.state.value == "cancelled":
            StatusComment(ctx.github, ctx.ledger, job, run_url=None, login=ctx.options.login).update(
                headline=text("headline", ending="cancelled"),
                stage="",
                result=text("result", ending="cancelled-before-start", why=why, label=label),
            )
    return cancelled
