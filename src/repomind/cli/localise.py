"""`repomind localise`, `repomind calibrate` and `repomind eval localise`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from repomind.cli.context import Context, pass_ctx
from repomind.errors import UsageError
from repomind.repoconfig import RepoConfig


def _weights(text: str | None) -> dict[str, float]:
    from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS, SIGNALS

    weights = dict(DEFAULT_WEIGHTS)
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        if name.strip() not in SIGNALS:
            raise UsageError(f"--weights: unknown signal {name.strip()!r} (known: {', '.join(SIGNALS)})")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--weights: {item!r} is not SIGNAL=NUMBER") from None
    return weights


def make_localiser(
    ctx: Context,
    *,
    calibration: Path | None = None,
    confidence: float = 0.9,
    weights: str | None = None,
    top_k: int = 10,
    repo_config: RepoConfig | None = None,
    rerank: str | None = None,
    log: Any = lambda _m: None,
) -> Any:
    """The localiser of these commands, built by the composition (:func:`repomind.compose.build_localiser`)
    with the flags over the repository's config and the settings. Without ``--calibration`` it has none:
    these commands measure, fit or show the ranking itself."""
    from repomind.compose import Overrides, build_localiser, resolve
    from repomind.compose.config import UNCALIBRATED

    if not 0.0 < confidence < 1.0:
        raise UsageError(f"--confidence must be between 0 and 1, not {confidence}")
    flags = Overrides(
        rerank=rerank,
        confidence=confidence,
        calibration=str(calibration) if calibration is not None else UNCALIBRATED,
    )
    config = resolve(ctx.settings, repo_config, flags)
    return build_localiser(ctx.settings, config, weights=_weights(weights), top_k=top_k, log=log)


_weights_option = click.option(
    "--weights", default=None, help="Fusion weights, e.g. bm25=2,dense=0 (a weight of 0 turns a signal off)."
)
_rerank_option = click.option(
    "--rerank",
    default=None,
    metavar="SPEC",
    help="Re-rank the head: cross-encoder:PATH (local model folder), llm, or llm:MODEL (litellm string).",
)


@click.command()
@click.option(
    "--repo", required=True, type=click.Path(path_type=Path), help="A git repository (bare or not)."
)
@click.option("--rev", default=None, help="Revision to index (default HEAD).")
@click.option(
    "--issue-file", type=click.Path(path_type=Path), default=None, help="The issue's text, from a file."
)
@click.option("--issue-text", default=None, help="The issue's text.")
@click.option("--top-k", default=10, show_default=True, type=int, help="How many ranked files to show.")
@click.option(
    "--confidence", default=0.9, show_default=True, type=float, help="Coverage of the calibrated set."
)
@click.option(
    "--calibration",
    type=click.Path(path_type=Path),
    default=None,
    help="From `repomind calibrate`, or `builtin` (SWE-bench Lite dev, packaged embedder).",
)
@_weights_option
@_rerank_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@pass_ctx
def localise(
    ctx: Context,
    repo: Path,
    rev: str | None,
    issue_file: Path | None,
    issue_text: str | None,
    top_k: int,
    confidence: float,
    calibration: Path | None,
    weights: str | None,
    rerank: str | None,
    as_json: bool,
) -> None:
    """Rank the files a fix for the issue will change, and give the calibrated set."""
    from repomind import repoconfig
    from repomind.progress import status
    from repomind.sandbox import repofs

    if (issue_file is None) == (issue_text is None):
        raise UsageError("give exactly one of --issue-file and --issue-text")
    if issue_file is not None:
        if not issue_file.is_file():
            raise UsageError(f"--issue-file {issue_file} does not exist")
        issue_text = issue_file.read_text(errors="replace")
    found = repoconfig.load(repo) if repofs.is_regular_file(repo, repoconfig.CONFIG_PATH) else None
    with status("localising", quiet=True) as progress:
        localiser = make_localiser(
            ctx,
            calibration=calibration,
            confidence=confidence,
            weights=weights,
            top_k=top_k,
            repo_config=found,
            rerank=rerank,
            log=progress,
        )
        result = localiser.localise(repo, issue_text or "", rev)
    if as_json:
        data = {
            "files": [{"path": f.path, "score": round(f.score, 6)} for f in result.files[:top_k]],
            "set": result.set,
            "confidence": result.confidence,
            "signals": result.signals,
            "note": result.note,
            "timings": result.timings,
            "calibration": result.calibration,
        }
        click.echo(json.dumps(data, indent=2))
        return
    for number, f in enumerate(result.files[:top_k], 1):
        click.echo(f"{number:>3}. {f.score:.4f}  {f.path}")
    if result.set is not None:
        size = len(result.set)
        click.echo(f"\nWith {result.confidence:.0%} confidence the change is in one of these {size} files:")
        for path in result.set:
            click.echo(f"  {path}")
    click.echo(f"\n{result.note}\nsignals: {', '.join(result.signals)}", err=True)


@click.command()
@click.option("--dataset", default=None, type=click.Path(path_type=Path), help="SWE-bench-format JSONL.")
@click.option(
    "--repos", default=None, type=click.Path(path_type=Path), help="Directory of owner__name repositories."
)
@click.option(
    "--from-github",
    "from_github",
    default=None,
    metavar="OWNER/REPO",
    help="Calibrate on the repository's own issues closed by merged pull requests (instead of --dataset).",
)
@click.option(
    "--from-history",
    "from_history",
    is_flag=True,
    help="Calibrate on the past changes in --repo's own git history (no API, no setup).",
)
@click.option(
    "--repo",
    default=None,
    type=click.Path(path_type=Path),
    help="With --from-github or --from-history: a local clone of that repository (bare or not).",
)
@click.option(
    "--rev", default=None, help="With --from-history: the history up to this revision (default HEAD)."
)
@click.option(
    "--limit",
    default=None,
    type=int,
    help="With --from-github: at most this many issues (200); with --from-history: past changes (1000).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The calibration file to write.")
@click.option("--instances", default=None, help="Comma-separated instance ids (default all).")
@_weights_option
@_rerank_option
@pass_ctx
def calibrate(
    ctx: Context,
    dataset: Path | None,
    repos: Path | None,
    from_github: str | None,
    from_history: bool,
    repo: Path | None,
    rev: str | None,
    limit: int | None,
    out: Path,
    instances: str | None,
    weights: str | None,
    rerank: str | None,
) -> None:
    """Fit the conformal calibration on SWE-bench-format data or on a repository's own closed issues."""
    from repomind.eval.localise.evaluate import calibration_from, replay
    from repomind.pipeline import instance as ds
    from repomind.pipeline.localise.calibrate import minimum_size
    from repomind.pipeline.localise.embed import embedding_name
    from repomind.pipeline.localise.rerank import describe
    from repomind.progress import bar

    if from_history:
        if from_github is not None or dataset is not None or repos is not None or repo is None:
            raise UsageError(
                "--from-history takes --repo (a local clone), not --from-github, --dataset or --repos"
            )
        _calibrate_from_history(ctx, repo, rev, 1000 if limit is None else limit, out, weights, rerank)
        return
    if rev is not None:
        raise UsageError("--rev goes with --from-history")
    if from_github is not None:
        if dataset is not None or repos is not None or repo is None:
            raise UsageError("--from-github takes --repo (a local clone), not --dataset or --repos")
        dataset, repos = _history_dataset(ctx, from_github, repo, 200 if limit is None else limit, out)
        name = f"{from_github}, closed by merged pull requests"
    elif dataset is None or repos is None or repo is not None:
        raise UsageError("give --dataset and --repos, or --from-github OWNER/REPO and --repo")
    else:
        name = dataset.name
    items = ds.load(dataset, _ids(instances))
    try:
        with bar("calibrating") as progress:
            localiser = make_localiser(ctx, weights=weights, rerank=rerank)
            warn = lambda m: click.echo(f"warning: {m}", err=True)  # noqa: E731
            run = replay(items, repos, localiser, progress=progress, warn=warn)
    finally:
        if from_github is not None:
            shutil.rmtree(repos, ignore_errors=True)  # the link to --repo, made by _history_dataset
    calibration = calibration_from(
        run,
        dataset_name=name,
        reranker=describe(localiser.reranker),
        embedder=embedding_name(localiser.embedder),
        weights=localiser.config.weights,
        source="github" if from_github is not None else "shared",
    )
    calibration.save(out)
    click.echo(
        f"calibrated on {len(run.records)} issues ({len(run.skipped)} skipped) → {out}; "
        f"enough for confidence up to {1 - 1 / (len(run.records) + 1):.3f} "
        f"(0.9 needs {minimum_size(0.9)})",
        err=True,
    )


def _calibrate_from_history(
    ctx: Context, repo: Path, rev: str | None, limit: int, out: Path, weights: str | None, rerank: str | None
) -> None:
    """Score the clone's past changes; the calibration to ``out``, the scored history beside it."""
    from repomind.pipeline.localise.calibrate import minimum_size
    from repomind.pipeline.localise.gitread import check_repository
    from repomind.pipeline.localise.history_calibration import score_history
    from repomind.progress import status

    if limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")
    check_repository(repo)
    with status("scoring past changes") as progress:
        localiser = make_localiser(ctx, weights=weights, rerank=rerank, log=progress)
        scored = score_history(repo, rev, localiser, limit=limit, log=progress)
    entries = out.with_name(out.stem + ".history.json")
    scored.save(entries)
    calibration = scored.calibration()
    calibration.meta = {**(calibration.meta or {}), "history_file": entries.name}
    calibration.save(out)
    skipped = ", ".join(
        f"{n} {why}" for why, n in sorted(scored.meta["skipped"].items(), key=lambda kv: -kv[1])
    )
    click.echo(
        f"calibrated on {len(calibration.alphas)} past changes of {scored.repo} "
        f"({scored.meta['stale']} left out, newer than their snapshot; skipped: {skipped or 'none'}) "
        f"in {scored.meta['seconds']:.0f} s → {out} (scored changes: {entries}); "
        f"0.9 needs {minimum_size(0.9)}",
        err=True,
    )


def _history_dataset(ctx: Context, full_name: str, repo: Path, limit: int, out: Path) -> tuple[Path, Path]:
    """Collect the repository's issues closed by merged PRs into ``<out>.issues.jsonl``; (dataset, repos)."""
    import tempfile

    from repomind.bot.github.client import GithubkitClient, StaticToken
    from repomind.pipeline import instance as ds
    from repomind.pipeline.localise.gitread import check_repository
    from repomind.pipeline.localise.history_issues import collect
    from repomind.progress import bar

    if full_name.count("/") != 1 or not all(full_name.split("/")):
        raise UsageError(f"--from-github {full_name!r} is not OWNER/REPO")
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")
    check_repository(repo)
    token = ctx.settings.github_token
    client = GithubkitClient(
        StaticToken(token.get_secret_value() if token else None), 0, base_url=ctx.settings.github_api_url
    )
    with bar("reading merged pull requests") as progress:
        found = collect(client, full_name, repo, limit=limit, progress=progress)
    for skip in found.skipped:
        click.echo(f"warning: pull request #{skip['pull']}: skipped, {skip['reason']}", err=True)
    dataset = out.with_name(out.stem + ".issues.jsonl")
    ds.save(found.instances, dataset)
    click.echo(
        f"{len(found.instances)} issues closed by merged pull requests (of {found.scanned} read) → {dataset}",
        err=True,
    )
    repos = Path(tempfile.mkdtemp(prefix="repomind-calibrate-"))
    (repos / full_name.replace("/", "__")).symlink_to(repo.resolve())
    return dataset, repos


@click.group("eval")
def evaluate() -> None:
    """Replay the pipeline offline on SWE-bench-format data."""


@evaluate.command("localise")
@click.option("--dataset", required=True, type=click.Path(path_type=Path), help="SWE-bench-format JSONL.")
@click.option(
    "--repos", required=True, type=click.Path(path_type=Path), help="Directory of owner__name repositories."
)
@click.option(
    "--calibration",
    type=click.Path(path_type=Path),
    default=None,
    help="From `repomind calibrate`, `builtin` (SWE-bench Lite dev, packaged embedder), or `history` (each "
    "instance on its own repository's history before its base commit).",
)
@click.option("--confidence", default=0.9, show_default=True, type=float)
@click.option(
    "--history-limit",
    default=1000,
    show_default=True,
    type=int,
    help="With --calibration history: past changes scored per repository.",
)
@click.option(
    "--max-set-size",
    default=None,
    type=click.IntRange(min=1),
    help="The summary's `claimed`: sets the bot would state, wider ones asking for a hint [default: the "
    "repository config's default].",
)
@click.option("--instances", default=None, help="Comma-separated instance ids (default all).")
@click.option("--resume", is_flag=True, help="Keep the instances already in OUT's directory; rank the rest.")
@click.option("--baseline", is_flag=True, help="Also rank with plain BM25 over whole files.")
@_weights_option
@_rerank_option
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="report.json to write (plots beside it)."
)
@pass_ctx
def eval_localise(
    ctx: Context,
    dataset: Path,
    repos: Path,
    calibration: Path | None,
    confidence: float,
    history_limit: int,
    max_set_size: int | None,
    instances: str | None,
    resume: bool,
    baseline: bool,
    weights: str | None,
    rerank: str | None,
    out: Path,
) -> None:
    """Localisation accuracy, conformal coverage and timings, per instance and overall."""
    from repomind.eval.localise.evaluate import replay, summarise
    from repomind.eval.localise.plots import write_plots
    from repomind.pipeline import instance as ds
    from repomind.progress import bar
    from repomind.repoconfig import RepoConfig

    items = ds.load(dataset, _ids(instances))
    if not repos.is_dir():
        raise UsageError(f"--repos {repos} is not a directory")
    history = calibration is not None and str(calibration) == "history"  # a reserved word, not a file
    with bar("localising") as progress:
        localiser = make_localiser(
            ctx,
            calibration=None if history else calibration,
            confidence=confidence,
            weights=weights,
            rerank=rerank,
        )
        run = replay(
            items,
            repos,
            localiser,
            results=out.parent / "instances.jsonl",
            resume=resume,
            baseline=baseline,
            progress=progress,
            warn=lambda m: click.echo(f"warning: {m}", err=True),
        )
    judge = _history(ctx, items, repos, localiser, history_limit, confidence) if history else None
    if max_set_size is None:
        max_set_size = RepoConfig().max_set_size
    summary = summarise(run, judge or localiser.calibration, confidence, max_set_size=max_set_size)
    plots = write_plots(out.parent, run.records, judge or localiser.calibration)
    report = {"summary": summary, "plots": [p.name for p in plots], "instances": run.records}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    brief = {k: v for k, v in summary.items() if k != "skipped"}
    json.dump(brief, sys.stdout, indent=1)
    sys.stdout.write("\n")


def _history(
    ctx: Context, items: list[Any], repos: Path, localiser: Any, limit: int, confidence: float
) -> Any:
    """Each record's calibration on its repository's history before its base commit (one scoring pass
    per repository, kept under the data dir)."""
    from repomind.eval.localise.history import history_calibration_for, scored_histories
    from repomind.progress import status

    if limit < 1:
        raise UsageError(f"--history-limit must be at least 1, not {limit}")
    with status("scoring the repositories' history", quiet=True) as progress:
        cache = ctx.settings.data_dir / "eval" / "history"
        scored = scored_histories(items, repos, localiser, cache, limit=limit, log=progress)
    return history_calibration_for(items, repos, scored, confidence)


def _ids(instances: str | None) -> list[str] | None:
    return [i.strip() for i in instances.split(",") if i.strip()] if instances else None
