"""`repomind serve`: the web app."""

from __future__ import annotations

import click

from repomind import log
from repomind.cli.context import Context, pass_ctx


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@pass_ctx
def serve(ctx: Context, host: str, port: int) -> None:
    """Serve the web app: webhooks, the setup page and /healthz."""
    import uvicorn

    from repomind.webhooks.app import create_app

    app = create_app(ctx.settings)
    log.get_logger("repomind.serve").info("serving", host=host, port=port, mode=app.state.mode.value)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
