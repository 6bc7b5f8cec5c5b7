"""The command line: the composition root for everything a person runs from a shell."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from repomind import __version__, log
from repomind.errors import RepomindError, UsageError
from repomind.sandbox.errors import SandboxError
from repomind.settings import Settings


class _Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


pass_ctx = click.make_pass_decorator(_Context)


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
    settings = Settings()
    log.configure(
        fmt=log_format or settings.log_format,
        level=log_level or settings.log_level,
        secrets=settings.secret_values(),
    )
    ctx.obj = _Context(settings)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@pass_ctx
def serve(ctx: _Context, host: str, port: int) -> None:
    """Serve the web app: webhooks, the setup page and /healthz."""
    import uvicorn

    from repomind.webhooks.app import create_app

    app = create_app(ctx.settings)
    log.get_logger("repomind.serve").info("serving", host=host, port=port, mode=app.state.mode.value)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@cli.group()
def sandbox() -> None:
    """The Docker sandbox in which every untrusted command runs."""


@sandbox.command("build")
@click.option("--offline", is_flag=True, help="Build from a debootstrap rootfs instead of a registry image.")
@click.option("--python", "python", default=None, help="Python version of the image (3.9, 3.11 or 3.13).")
@click.option("--force", is_flag=True, help="Rebuild even when an image from the same recipe exists.")
@pass_ctx
def sandbox_build(ctx: _Context, offline: bool, python: str | None, force: bool) -> None:
    """Build the sandbox base image (a no-op when it is up to date)."""
    from repomind.progress import status
    from repomind.sandbox import client as docker_client
    from repomind.sandbox import images

    client = docker_client.connect()
    with status(f"building {images.base_image_tag(python)}") as progress:
        report = images.ensure_base_image(
            client,
            python,
            offline=True if offline else None,
            force=force,
            mirror=ctx.settings.debian_mirror,
            log=progress,
        )
    verb = "built" if report.built else "up to date:"
    click.echo(f"{verb} {report.tag} ({report.method}, {report.seconds:.1f} s)", err=True)


@sandbox.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--repo", "repo", required=True, type=click.Path(path_type=Path), help="The repository's work tree."
)
@click.option("--network", is_flag=True, help="Allow network access while the command runs.")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Wall-clock limit in seconds.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_ctx
def sandbox_exec(
    ctx: _Context, repo: Path, network: bool, timeout_s: float | None, command: tuple[str, ...]
) -> None:
    """Run COMMAND in the repository's cached environment, exactly as the bot would.

    Prints only the command's output and exits with its status (124 on timeout, 137 when out of memory).
    """
    from dataclasses import replace

    from repomind import repoconfig
    from repomind.progress import status
    from repomind.sandbox import DockerSandbox, EnvironmentSpec, Outcome
    from repomind.sandbox.worktree import repo_name

    if not repo.is_dir():
        raise UsageError(f"--repo {repo} is not a directory")
    config = repoconfig.load(repo)
    limits = _limits(ctx.settings)
    if timeout_s is not None:
        limits = replace(limits, timeout_s=timeout_s)
    with status("preparing the environment", quiet=True) as progress:
        box = DockerSandbox(limits=limits, log=progress)
        spec = EnvironmentSpec(
            repo_name(repo), setup_command=config.setup_command, python=config.python, image=config.image
        )
        env = box.prepare(repo, spec)
    result = box.run(env, repo, list(command), network=network, capture_diff=False)
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    for note in result.notes:
        sys.stderr.write(f"repomind: {note}\n")
    sys.stderr.flush()
    codes = {Outcome.TIMEOUT: 124, Outcome.OOM: 137}
    sys.exit(codes.get(result.outcome, result.exit_code))


@sandbox.command("prune")
def sandbox_prune() -> None:
    """Remove containers the sandbox left behind (after a crash) and unused environment images."""
    from repomind.sandbox import client as docker_client

    client = docker_client.connect()
    removed = 0
    for container in docker_client.leftover_containers(client):
        container.remove(force=True, v=True)
        removed += 1
    pruned = client.images.prune(filters={"dangling": True})
    click.echo(f"removed {removed} containers; reclaimed {pruned.get('SpaceReclaimed', 0)} bytes", err=True)


def _limits(settings: Settings) -> Any:
    from repomind.sandbox import Limits

    return Limits(
        memory_bytes=settings.sandbox_memory_mb * 2**20,
        cpus=settings.sandbox_cpus,
        pids=settings.sandbox_pids,
        timeout_s=settings.sandbox_timeout_s,
    )


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
