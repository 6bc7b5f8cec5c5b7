"""`repomind sandbox ...`: build the base image, run a command as the bot would, clean up."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repomind.cli.context import Context, pass_ctx
from repomind.compose.run import limits as sandbox_limits
from repomind.errors import UsageError


@click.group()
def sandbox() -> None:
    """The Docker sandbox in which every untrusted command runs."""


@sandbox.command("build")
@click.option("--offline", is_flag=True, help="Build from a debootstrap rootfs instead of a registry image.")
@click.option("--python", "python", default=None, help="Python version of the image (3.9, 3.11 or 3.13).")
@click.option("--force", is_flag=True, help="Rebuild even when an image from the same recipe exists.")
@click.option(
    "--compiler", is_flag=True, help="The variant with a C compiler (build-essential, python3-dev)."
)
@pass_ctx
def sandbox_build(ctx: Context, offline: bool, python: str | None, force: bool, compiler: bool) -> None:
    """Build the sandbox base image (a no-op when it is up to date)."""
    from repomind.progress import status
    from repomind.sandbox import client as docker_client
    from repomind.sandbox import images

    client = docker_client.connect()
    with status(f"building {images.base_image_tag(python, compiler)}") as progress:
        report = images.ensure_base_image(
            client,
            python,
            offline=True if offline else None,
            force=force,
            mirror=ctx.settings.debian_mirror,
            log=progress,
            compiler=compiler,
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
    ctx: Context, repo: Path, network: bool, timeout_s: float | None, command: tuple[str, ...]
) -> None:
    """Run COMMAND in the repository's cached environment, exactly as the bot would.

    Prints only the command's output and exits with its status (124 on timeout, 137 when out of memory);
    when the Python or compiler variant was chosen from the repository's metadata rather than the default,
    one ``repomind: environment: ...`` line on stderr says which and why.
    """
    from dataclasses import replace

    from repomind import repoconfig
    from repomind.progress import status
    from repomind.sandbox import DockerSandbox, EnvironmentSpec, Outcome
    from repomind.sandbox.worktree import repo_name

    if not repo.is_dir():
        raise UsageError(f"--repo {repo} is not a directory")
    config = repoconfig.load(repo)
    limits = sandbox_limits(ctx.settings)
    if timeout_s is not None:
        limits = replace(limits, timeout_s=timeout_s)
    with status("preparing the environment", quiet=True) as progress:
        box = DockerSandbox(limits=limits, log=progress, allowed_images=ctx.settings.allowed_images)
        spec = EnvironmentSpec(
            repo_name(repo),
            setup_command=config.setup_command,
            python=config.python,
            image=config.image,
            compiler=config.compiler,
        )
        env = box.prepare(repo, spec)
    if env.interpreter:  # chosen from the repository's metadata, not the default: say which and why
        sys.stderr.write(f"repomind: environment: {env.interpreter}\n")
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
@pass_ctx
def sandbox_prune(ctx: Context) -> None:
    """Remove containers the sandbox left behind (after a crash) and unused environment images.

    A container that still runs is left alone unless it has run longer than the sandbox timeout (every
    command is killed by then), so a prune never cuts short a job that a live worker is running.
    """
    from repomind.sandbox import client as docker_client

    client = docker_client.connect()
    removed = 0
    limit_s = ctx.settings.sandbox_timeout_s + 60
    for container in docker_client.leftover_containers(client):
        if container.status == "running" and docker_client.running_for_s(container) < limit_s:
            continue
        container.remove(force=True, v=True)
        removed += 1
    pruned = client.images.prune(filters={"dangling": True})
    click.echo(f"removed {removed} containers; reclaimed {pruned.get('SpaceReclaimed', 0)} bytes", err=True)
