"""``installation`` and ``installation_repositories``: logged, and when the app is uninstalled or a
repository is removed from it, everything Repomind kept about it is deleted (by a queued purge job)."""

from __future__ import annotations

from repomind.bot.commands.triggers import BotContext
from repomind.store.queue import Kind
from repomind.webhooks.events import InstallationEvent, InstallationRepositoriesEvent
from repomind.webhooks.router import Router

router = Router("installation", InstallationEvent)
repositories_router = Router("installation_repositories", InstallationRepositoriesEvent)


@router.register("installation")
def on_installation(event: InstallationEvent, ctx: BotContext) -> None:
    ctx.log.info(
        "installation changed",
        action=event.action,
        account=event.installation.account.login,
        repositories=[r.get("full_name") for r in event.repositories],
    )
    if event.action == "deleted":
        ctx.queue.enqueue(Kind.PURGE, event.installation.id, [])


@repositories_router.register("installation_repositories", action="removed")
def on_repositories_removed(event: InstallationRepositoriesEvent, ctx: BotContext) -> None:
    names = [str(r["full_name"]) for r in event.repositories_removed if r.get("full_name")]
    ctx.log.info("repositories removed", installation=event.installation.id, repositories=names)
    if names:
        ctx.queue.enqueue(Kind.PURGE, event.installation.id, names)
