"""The fake of the job queue (:class:`repomind.store.queue.Queue`): records what was enqueued."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from repomind.store.queue import EVENTS, LANE, PIPELINE, Handlers, Kind, Stop


@dataclass
class FakeQueue:
    """:class:`repomind.store.queue.Queue` that records each message and runs nothing by itself
    (:meth:`consume` keeps the handlers it is given)."""

    messages: list[tuple[Kind, tuple[Any, ...], float]] = field(default_factory=list)
    handlers: Handlers | None = None

    def enqueue(self, kind: Kind, *args: Any, delay_s: float = 0.0) -> None:
        self.messages.append((kind, args, delay_s))

    def pending(self, lane: str | None = None) -> int:
        lanes = {lane} if lane is not None else {EVENTS, PIPELINE}
        return sum(1 for kind, _, _ in self.messages if LANE[kind] in lanes)

    def consume(self, handlers: Handlers, threads: Mapping[str, int]) -> Stop:
        self.handlers = handlers
        return lambda: None

    def _args(self, kind: Kind) -> list[tuple[Any, ...]]:
        return [args for k, args, _ in self.messages if k is kind]

    @property
    def deliveries(self) -> list[str]:
        return [args[0] for args in self._args(Kind.DISPATCH)]

    @property
    def delays(self) -> list[float]:
        return [delay for k, _, delay in self.messages if k is Kind.DISPATCH]

    @property
    def jobs(self) -> list[int]:
        return [args[0] for args in self._args(Kind.RUN_JOB)]

    @property
    def training(self) -> list[int]:
        return [args[0] for args in self._args(Kind.TRAINING_READY)]

    @property
    def purges(self) -> list[tuple[int, list[str]]]:
        return [(args[0], list(args[1])) for args in self._args(Kind.PURGE)]
