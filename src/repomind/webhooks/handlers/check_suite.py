"""``check_suite``: an app's whole suite of checks failed on the head of a bot PR; as ``check_run``
(:mod:`repomind.bot.ci`), once per head commit whichever of the two arrives first."""

from __future__ import annotations

from repomind.bot import ci
from repomind.bot.commands.triggers import BotContext
from repomind.webhooks.events import CheckSuiteEvent
from repomind.webhooks.router import Router

router = Router("check_suite", CheckSuiteEvent)


@router.register("check_suite", action="completed")
def on_completed(event: CheckSuiteEvent, ctx: BotContext) -> None:
    suite = event.check_suite
    slug = suite.app.slug if suite.app else ""
    if event.installation is None or not ci.is_failure_of_another(suite.conclusion, slug, ctx):
        return
    pulls = [p.number for p in suite.pull_requests]
    ci.follow(ctx, event.repository.full_name, event.installation.id, suite.head_sha, pulls, suite=suite.id)
