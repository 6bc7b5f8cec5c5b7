"""``follow_ci``: when a check on the head of the bot's own PR fails (CI, another app's check; never the
bot's own "Repomind" check), start one revision, as a "changes requested" review does, with the failing
checks' output (title, summary, text, annotations) as the feedback.

At most once per head commit: a job with trigger ``ci`` for that SHA ends the matter (a revision pushes
a new head, whose own failures may start the next, up to :data:`MAX_CI_REVISIONS` on one PR). Never
for a PR the bot did not open, nor for a head that is no longer the PR's, nor when the repository's
config does not set ``follow_ci: true``. The revision runs as the person who asked for the PR (their
write permission is checked again).
"""

from __future__ import annotations

from dataclasses import dataclass

from repomind import repoconfig
from repomind.bot.checks import CHECK_NAME
from repomind.bot.commands.options import issue_of_branch
from repomind.bot.commands.triggers import BotContext, Where, start_job
from repomind.bot.github.protocol import CheckAnnotation, CheckRun, is_bot_pull
from repomind.bot.render import text
from repomind.errors import ConfigError
from repomind.pipeline.toolchain.protocol import trim

#: Conclusions that count as a failure to act on.
FAILED = frozenset({"failure", "timed_out", "startup_failure"})
#: How much of each check's summary and text the feedback keeps (the start and the end).
SUMMARY_CHARS = 3_000
TEXT_CHARS = 8_000
MAX_ANNOTATIONS = 30
MAX_CHECKS = 5
#: Revisions CI failures may start on one issue's PR: a revision that fails CI again does not loop.
MAX_CI_REVISIONS = 3


@dataclass(frozen=True)
class FailedCheck:
    run: CheckRun
    summary: str
    text: str
    annotations: tuple[CheckAnnotation, ...]


def is_failure_of_another(
    conclusion: str | None, app_slug: str, ctx: BotContext, *, name: str | None = None
) -> bool:
    """A failed check (or suite: no ``name``) that is not the bot's own, by the app that made it and by
    its name."""
    return conclusion in FAILED and name != CHECK_NAME and app_slug != ctx.options.app_slug


def follow(
    ctx: BotContext, repo: str, installation_id: int, head_sha: str, pulls: list[int], *, suite: int | None
) -> None:
    """Start the revision for the failing checks on ``head_sha`` (of the check suite ``suite``, or any)
    of each of ``pulls`` that is the bot's PR and still has that head."""
    for number in pulls:
        pr = ctx.github.get_pull(repo, number)
        issue = issue_of_branch(pr.head_ref)
        if not is_bot_pull(pr, repo, ctx.options.login) or issue is None:
            continue  # somebody else's PR (or a fork's), whatever its branch is called
        if pr.head_sha != head_sha:
            ctx.log.info("CI failure on an old head: ignored", pr=number, sha=head_sha)
            continue
        github_repo = ctx.github.get_repository(repo)
        try:
            config = repoconfig.read_default_branch(ctx.github, repo, github_repo.default_branch)
        except ConfigError:
            config = None
        if config is None or not config.follow_ci:
            ctx.log.info("CI failure on a bot PR: follow_ci is off", pr=number)
            return
        jobs = ctx.ledger.jobs_for_issue(repo, issue)
        if any(j.trigger == "ci" and j.args.get("head_sha") == head_sha for j in jobs):
            ctx.log.info("CI failure already followed for this head", pr=number, sha=head_sha)
            return
        if sum(j.trigger == "ci" for j in jobs) >= MAX_CI_REVISIONS:
            ctx.log.info(
                "CI failure not followed: the PR had its CI revisions", pr=number, most=MAX_CI_REVISIONS
            )
            return
        failed = _failed_checks(ctx, repo, head_sha, suite)
        if not failed or not jobs:
            return
        feedback = text("ci_feedback", head_sha=head_sha, checks=failed)
        start_job(
            ctx,
            Where(repo, installation_id, issue, number),
            user=jobs[0].requested_by,
            trigger="ci",
            command="revise",
            args={"feedback": feedback, "head_sha": head_sha, "checks": [c.run.name for c in failed]},
        )
        return


def _failed_checks(ctx: BotContext, repo: str, head_sha: str, suite: int | None) -> list[FailedCheck]:
    found = []
    for run in ctx.github.list_check_runs(repo, head_sha):
        if not is_failure_of_another(run.conclusion, run.app_slug, ctx, name=run.name):
            continue
        if suite is not None and run.check_suite_id != suite:
            continue
        notes = ctx.github.list_check_annotations(repo, run.id)[:MAX_ANNOTATIONS]
        found.append(
            FailedCheck(
                run,
                trim(run.output.summary, SUMMARY_CHARS),
                trim(run.output.text, TEXT_CHARS),
                tuple(notes),
            )
        )
    return sorted(found, key=lambda c: c.run.name)[:MAX_CHECKS]
