"""`repomind backtest`: how the bot, set up as the repository is today, would have done on its own history."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from repomind.cli.context import Context, pass_ctx
from repomind.errors import UsageError

if TYPE_CHECKING:
    from repomind.pipeline.instance import Instance

_REMOTE = re.compile(r"[:/]([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def repo_name(clone: Path) -> str:
    """OWNER/NAME of the clone's ``origin`` remote, else of its directory as given when that is named
    ``owner__name`` (a mirror may be a symlink), else ``local/<directory name>``."""
    from repomind.pipeline.solve.workspace import run_git

    url = run_git(clone, "config", "--get", "remote.origin.url", check=False).strip()
    found = _REMOTE.search(url)
    if found:
        return f"{found.group(1)}/{found.group(2)}"
    name = clone.absolute().name.removesuffix(".git")
    owner, sep, rest = name.partition("__")
    return f"{owner}/{rest}" if sep and owner and rest else f"local/{name}"


@click.command("backtest")
@click.option(
    "--repo",
    "clone",
    required=True,
    type=click.Path(path_type=Path),
    help="A local clone: its history gives the tasks, its default branch's .github/repomind.yml the setup.",
)
@click.option(
    "--from-github",
    default=None,
    metavar="OWNER/REPO",
    help="Tasks from the repository's merged pull requests that close an issue (the issue as the task), "
    "read through the GitHub API; default: from the clone's commits that change source and tests.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many tasks KEPT.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only changes from this day on (YYYY-MM-DD).",
)
@click.option(
    "--model",
    default=None,
    help="The litellm model the bot runs (default: the repository's config, else REPOMIND_MODEL); "
    "`oracle` replays each task's own fix through the bot's edit and test path (the ceiling).",
)
@click.option("--api-base", default=None, help="An OpenAI-compatible server for --model.")
@click.option(
    "--strategy",
    default=None,
    help="How the bot solves (default: the repository's config, else the server's).",
)
@click.option(
    "--tasks",
    "tasks_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Replay these task instances (SWE-bench JSONL, e.g. an earlier DIR/tasks.jsonl), "
    "instead of building them.",
)
@click.option(
    "--specs",
    "specs_file",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON {repo: {version: spec}} of environments used before the bot's own way of building them.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output directory: tasks.jsonl, predictions.jsonl, report.json, plots; the task cache in cache/.",
)
@pass_ctx
def backtest(
    ctx: Context,
    clone: Path,
    from_github: str | None,
    limit: int | None,
    since: dt.datetime | None,
    model: str | None,
    api_base: str | None,
    strategy: str | None,
    tasks_file: Path | None,
    specs_file: Path | None,
    out: Path,
) -> None:
    """Build task instances from the repository's own history and replay the bot on each, at its base
    commit with everything after it hidden, set up as the repository's default branch sets it up today;
    grade them as `eval swebench` does and write DIR/report.json (per task and a summary) with plots."""
    from repomind.compose.run import limits
    from repomind.eval.backtest.replay import (
        ORACLE,
        Replay,
        current_config,
        oracle_boundaries,
        replay_flags,
    )
    from repomind.pipeline.localise.gitread import check_repository
    from repomind.pipeline.strategies import strategy_for
    from repomind.progress import bar

    check_repository(clone)
    if from_github is not None and (from_github.count("/") != 1 or not all(from_github.split("/"))):
        raise UsageError(f"--from-github {from_github!r} is not OWNER/REPO")
    if tasks_file is not None and (from_github is not None or since is not None):
        raise UsageError("--tasks replays given tasks: --from-github and --since choose tasks to build")
    settings = ctx.settings
    flags = replay_flags(model, api_base, strategy)
    config = current_config(settings, clone, flags)
    strategy_for(config.strategy)  # a bad config or strategy stops here, before any task is built
    if config.model is None:
        raise UsageError("no model: give --model (or `oracle`), or set REPOMIND_MODEL")
    box = ctx.boundaries.sandbox(limits(settings), allowed_images=(), log=lambda _m: None)
    out = out.resolve()
    name = from_github or repo_name(clone)
    tasks = _tasks(ctx, clone, name, from_github, tasks_file, limit, since, box, out)
    click.echo(f"{len(tasks)} tasks of {name} → {out / 'tasks.jsonl'}", err=True)
    if model == ORACLE:
        boundaries_for: Any = oracle_boundaries
    else:
        boundaries_for = lambda _task: ctx.boundaries  # noqa: E731
    lookup = None
    if specs_file is not None:
        from repomind.eval.swebench import specs

        lookup = specs.overlay(specs_file)
    replay = Replay(clone, out, settings, flags, box, boundaries_for, spec_lookup=lookup)
    with bar("replaying") as progress:
        data = replay.run(tasks, progress=progress, warn=lambda m: click.echo(f"warning: {m}", err=True))
    json.dump(data["summary"], sys.stdout, indent=1)
    sys.stdout.write("\n")


def _tasks(
    ctx: Context,
    clone: Path,
    name: str,
    from_github: str | None,
    tasks_file: Path | None,
    limit: int | None,
    since: dt.datetime | None,
    box: Any,
    out: Path,
) -> list[Instance]:
    """The given tasks, or those built from the history (cached under ``out/cache``)."""
    from repomind.eval.backtest import replay
    from repomind.eval.swebench.jsonl import load_instances
    from repomind.progress import bar

    if tasks_file is not None:
        return load_instances(tasks_file)[:limit]
    from repomind.eval.backtest import tasks as build

    day = since.date() if since is not None else None
    candidates: Any
    if from_github is not None:
        from repomind.bot.github.client import GithubkitClient, StaticToken

        token = ctx.settings.github_token
        client = GithubkitClient(
            StaticToken(token.get_secret_value() if token else None), 0, base_url=ctx.settings.github_api_url
        )
        candidates = build.github_candidates(client, from_github, clone, since=day)
    else:
        candidates = build.history_candidates(clone, since=day)
    with bar("building tasks") as progress:
        return replay.build(
            candidates, clone, repo=name, sandbox=box, limit=limit, cache_dir=out / "cache", progress=progress
        )
