"""``check_run``: a failed check (CI) on the head of a bot PR starts one revision when the repository
sets ``follow_ci: true`` (:mod:`repomind.bot.ci`)."""

from __future__ import annotations

from repomind.bot import ci
from repomind.bot.commands.triggers import BotContext
from repomind.webhooks.events import CheckRunEvent
from repomind.webhooks.router import Router

router = Router("check_run", CheckRunEvent)


@router.register("check_run", action="completed")
def on_completed(event: CheckRunEvent, ctx: BotContext) -> None:
    run = event.check_run
    slug = run.app.slug if run.app else ""
    if event.installation is None or not ci.is_failure_of_another(run.conclusion, slug, ctx, name=run.name):
        return
    suite = run.check_suite.id if run.check_suite else None
    pulls = [p.number for p in run.pull_requests]
    ci.follow(ctx, event.repository.full_name, event.installation.id, run.head_sha, pulls, suite=suite)
