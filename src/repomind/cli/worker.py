"""`repomind worker`: consume the queue (deliveries and pipeline jobs, or the training queue)."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

import click

from repomind import log
from repomind.cli.context import Context, pass_ctx
from repomind.store.queue import PIPELINE, QUEUES, TRAINING

if TYPE_CHECKING:
    from repomind.server.runtime import Runtime


@click.command()
@click.option(
    "--queue", type=click.Choice(QUEUES), default=PIPELINE, show_default=True, help="Queue to consume."
)
@click.option("--parent-pid", type=int, hidden=True, help="Stop when this process is gone (serve's child).")
@pass_ctx
def worker(ctx: Context, queue: str, parent_pid: int | None) -> None:
    """Run queued jobs; any number of workers may share one queue (Redis) and one store.

    SIGTERM or SIGINT stops taking new work and waits for running tasks; a second one stops at once.
    A worker stopped at once or killed outright leaves its job to be taken over by another worker when
    its lease expires.
    """
    from repomind.server.runtime import Runtime

    runtime = Runtime.from_settings(ctx.settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # the second signal: do not wait for running tasks
            log.get_logger("repomind.worker").warning("stopping at once; leases hand running jobs on")
            os._exit(128 + signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    recover = None
    if queue == TRAINING:
        _start_training(runtime)
    else:
        consumer = runtime.worker()
        runtime.start_worker(consumer, queue=queue)
        recover = consumer.recover_expired
    logger = log.get_logger("repomind.worker")
    logger.info("worker started", queue=queue, workers=ctx.settings.workers)
    every = ctx.settings.recover_every_s
    last = time.monotonic()
    while not stop.wait(min(1.0, every or 1.0)):
        if parent_pid is not None and os.getppid() != parent_pid:
            logger.warning("the server that started this worker is gone; stopping", parent_pid=parent_pid)
            break
        if recover is not None and every is not None and time.monotonic() - last >= every:
            last = time.monotonic()
            recover()  # jobs of a dead worker are taken over within seconds, not at the next minute
    logger.info("worker stopping")
    runtime.stop()


def _start_training(runtime: Runtime) -> None:
    """The training worker: the store and the training queue, no GitHub credentials (a GPU host)."""
    from repomind.training.compose import make_service
    from repomind.training.queue import TrainingWorker, announcer

    service = make_service(runtime.settings, runtime.ledger, notify=announcer(runtime.queue))
    target = TrainingWorker(service, runtime.queue)
    target.recover()
    runtime.consumers.append(runtime.queue.consume(target.handlers(), {TRAINING: 1}))
    runtime.announce((TRAINING,))
