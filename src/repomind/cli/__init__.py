"""The command line: the composition root for everything a person runs from a shell."""

from __future__ import annotations

import os
import sys

import click

from repomind import __version__, log
from repomind.cli.context import Context
from repomind.errors import RepomindError
from repomind.sandbox.errors import SandboxError
from repomind.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="repomind")
@click.option(
    "--log-format",
    type=click.Choice(["json", "console"]),
    default=None,
    help="Log format on stderr (default: console on a terminal, JSON otherwise).",
)
@click.option("--log-level", default=None, help="debug, info, warning or error.")
@click.pass_context
def cli(ctx: click.Context, log_format: str | None, log_level: str | None) -> None:
    """Repomind turns a labelled GitHub issue into a tested draft pull request."""
    given = ctx.obj if isinstance(ctx.obj, Context) else None  # a caller (a test) may hand its own
    settings = given.settings if given is not None else Settings()
    log.configure(
        fmt=log_format or settings.log_format,
        level=log_level or settings.log_level,
        secrets=settings.secret_values(),
    )
    ctx.obj = given or Context(settings)


# Subcommands live in one module per area; registering them here keeps this the one composition root.
from repomind.cli.backtest import backtest  # noqa: E402
from repomind.cli.db import db  # noqa: E402
from repomind.cli.llm import llm  # noqa: E402
from repomind.cli.localise import calibrate, evaluate, localise  # noqa: E402
from repomind.cli.sandbox import sandbox  # noqa: E402
from repomind.cli.serve import serve  # noqa: E402
from repomind.cli.solve import solve  # noqa: E402
from repomind.cli.swebench import eval_swebench  # noqa: E402, F401  (attaches `eval swebench`)
from repomind.cli.train import train  # noqa: E402
from repomind.cli.worker import worker  # noqa: E402

for _command in (serve, worker, sandbox, localise, calibrate, evaluate, solve, llm, train, db, backtest):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``repomind`` console script: errors become one clear line and an exit status."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        cli.main(args=argv, prog_name="repomind", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RepomindError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except SandboxError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
