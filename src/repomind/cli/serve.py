"""`repomind serve`: the web app, with an embedded queue worker unless ``--no-worker``."""

from __future__ import annotations

import click

from repomind import log
from repomind.cli.context import Context, pass_ctx


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-worker", is_flag=True, help="Only receive webhooks; run `repomind worker` elsewhere.")
@pass_ctx
def serve(ctx: Context, host: str, port: int, no_worker: bool) -> None:
    """Serve the web app: webhooks, the setup page, run pages and /healthz."""
    import uvicorn

    from repomind.webhooks.app import create_app

    app = create_app(ctx.settings, worker=not no_worker)
    log.get_logger("repomind.serve").info(
        "serving", host=host, port=port, mode=app.state.mode.value, worker=not no_worker
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
