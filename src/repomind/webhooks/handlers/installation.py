"""``installation``: logged, so an operator sees where the app was installed or removed."""

from __future__ import annotations

from repomind.bot.triggers import BotContext
from repomind.webhooks.events import InstallationEvent
from repomind.webhooks.router import Router

router = Router("installation", InstallationEvent)


@router.register("installation")
def on_installation(event: InstallationEvent, ctx: BotContext) -> None:
    ctx.log.info(
        "installation changed",
        action=event.action,
        account=event.installation.account.login,
        repositories=[r.get("full_name") for r in event.repositories],
    )
