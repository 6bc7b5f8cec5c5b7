"""Declarative routing of events to handlers: one :class:`Router` per event family.

    router = Router("issues", IssuesEvent)

    @router.register("issues", action="labeled")
    def on_labeled(event: IssuesEvent, ctx: BotContext) -> None: ...

:class:`Routes` joins the families: the web process asks it whether an event is handled (else 204)
and validates the payload into its typed event (else 400); the worker asks it to dispatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from repomind.bot.commands.triggers import BotContext
from repomind.webhooks.events import Event

E = TypeVar("E", bound=Event)
Handler = Callable[[E, BotContext], None]


class PayloadError(ValueError):
    """A payload that does not have the fields its event needs; the message names them."""


@dataclass
class Router(Generic[E]):
    event: str
    model: type[E]
    handlers: dict[str | None, list[Handler[E]]] = field(default_factory=dict)

    def register(self, event: str, *, action: str | None = None) -> Callable[[Handler[E]], Handler[E]]:
        """Register a handler for ``event`` (this router's family) and ``action`` (None: every action)."""
        if event != self.event:
            raise ValueError(f"router for {self.event!r} cannot register {event!r}")

        def decorate(handler: Handler[E]) -> Handler[E]:
            self.handlers.setdefault(action, []).append(handler)
            return handler

        return decorate

    def handles(self, action: str | None) -> bool:
        return bool(self.handlers.get(action) or self.handlers.get(None))

    def parse(self, payload: Any) -> E:
        try:
            return self.model.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise PayloadError(f"{self.event} payload is missing what Repomind needs: {problems}") from exc

    def dispatch(self, event: E, ctx: BotContext) -> None:
        for handler in [*self.handlers.get(event.action, []), *self.handlers.get(None, [])]:
            handler(event, ctx)


class Routes:
    def __init__(self, routers: Iterable[Router[Any]]) -> None:
        self._routers = {r.event: r for r in routers}

    def handles(self, event: str, action: str | None) -> bool:
        router = self._routers.get(event)
        return router is not None and router.handles(action)

    def parse(self, event: str, payload: Any) -> Event:
        parsed: Event = self._routers[event].parse(payload)
        return parsed

    def dispatch(self, event: str, payload: Any, ctx: BotContext) -> None:
        router = self._routers.get(event)
        if router is not None:
            router.dispatch(router.parse(payload), ctx)
