"""`repomind worker`: consume the job queue (pipeline jobs and deliveries, or the training queue)."""

from __future__ import annotations

import click

from repomind import log
from repomind.bot.queue import PIPELINE, QUEUES
from repomind.cli.context import Context, pass_ctx


@click.command()
@click.option(
    "--queue", type=click.Choice(QUEUES), default=PIPELINE, show_default=True, help="Queue to consume."
)
@pass_ctx
def worker(ctx: Context, queue: str) -> None:
    """Run queued jobs; any number of workers may share one queue (Redis) and one store."""
    from repomind.webhooks.runtime import Runtime

    runtime = Runtime.from_settings(ctx.settings)
    consumer = runtime.start_worker(runtime.worker(), queue=queue, embedded=False)
    log.get_logger("repomind.worker").info("worker started", queue=queue, workers=ctx.settings.workers)
    try:
        consumer.run()  # blocks; SIGTERM stops after the running tasks, SIGINT at once
    finally:
        runtime.ledger.engine.dispose()
