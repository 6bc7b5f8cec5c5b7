"""`repomind solve`: the whole pipeline on one issue, locally; exit 0 only when a patch passed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from repomind.cli.context import Context, pass_ctx
from repomind.errors import UsageError


@click.command("solve")
@click.option("--repo", required=True, help="The repository: a local path or a clone URL (never modified).")
@click.option("--rev", default=None, help="The starting revision (default: the repository's HEAD).")
@click.option(
    "--issue-file", type=click.Path(path_type=Path), default=None, help="A file with the issue's text."
)
@click.option("--issue-text", default=None, help="The issue's text.")
@click.option(
    "--issue",
    "issue_url",
    default=None,
    metavar="URL",
    help="An issue's web URL (https://github.com/OWNER/REPO/issues/N), read through the REST API.",
)
@click.option("--model", default=None, help="A litellm model string (default: REPOMIND_MODEL).")
@click.option(
    "--api-base", default=None, help="An OpenAI-compatible server (default: REPOMIND_LLM_API_BASE)."
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), default=None, help="Run directory (default: runs/<id>)."
)
@click.option("--max-attempts", type=click.IntRange(1, 10), default=None, help="Attempts (default: 3).")
@click.option(
    "--budget-tokens", type=click.IntRange(min=1), default=None, help="Stop after this many tokens."
)
@click.option(
    "--budget-usd", type=click.FloatRange(min=0, min_open=True), default=None, help="Dollar budget."
)
@click.option("--max-tokens", type=click.IntRange(min=1), default=None, help="Longest reply, in tokens.")
@click.option("--keep-work-trees", is_flag=True, help="Keep the scratch work trees under the run directory.")
@click.option(
    "--calibration",
    type=click.Path(path_type=Path),
    default=None,
    help="From `repomind calibrate`, or `builtin` (SWE-bench Lite dev, packaged embedder).",
)
@click.option(
    "--rerank",
    default=None,
    metavar="SPEC",
    help="Re-rank the head: cross-encoder:PATH, llm or llm:MODEL (default: REPOMIND_RERANK).",
)
@click.option(
    "--python", default=None, help="The Python version to test with, e.g. 3.11 (default: the config's)."
)
@click.option(
    "--strategy",
    default=None,
    help="agent or pipeline (default: the repository's `strategy`, else REPOMIND_STRATEGY, else agent).",
)
@click.option(
    "--max-steps",
    type=click.IntRange(1, 200),
    default=None,
    help="The agent's step limit (default: the config's max_steps, 40).",
)
@click.option("--json", "as_json", is_flag=True, help="Print report.json on stdout.")
@pass_ctx
def solve(
    ctx: Context,
    repo: str,
    rev: str | None,
    issue_file: Path | None,
    issue_text: str | None,
    issue_url: str | None,
    model: str | None,
    api_base: str | None,
    out: Path | None,
    max_attempts: int | None,
    budget_tokens: int | None,
    budget_usd: float | None,
    max_tokens: int | None,
    keep_work_trees: bool,
    calibration: Path | None,
    rerank: str | None,
    python: str | None,
    strategy: str | None,
    max_steps: int | None,
    as_json: bool,
) -> None:
    """Localise, patch, test and reflect on one issue; write the run's artifacts and its report.

    Exits 0 only when a patch passed its tests and was verified against the issue; 1 when the run
    finished without one (the report says why). Flags win over the repository's `.github/repomind.yml`
    at the starting revision, which wins over the settings (the table is in `repomind.compose.config`).
    """
    from repomind.compose import Overrides, build_run, resolve_local
    from repomind.pipeline.solve.artifacts import new_run_id
    from repomind.pipeline.solve.events import RunEvents, progress_lines
    from repomind.progress import status

    settings = ctx.settings
    text = _issue(issue_file, issue_text, issue_url, ctx)
    flags = Overrides(
        model=model,
        api_base=api_base,
        rerank=rerank,
        budget_usd=budget_usd,
        budget_tokens=budget_tokens,
        max_attempts=max_attempts,
        python=python,
        calibration=str(calibration) if calibration is not None else None,
        max_tokens=max_tokens,
        strategy=strategy,
        max_steps=max_steps,
    )
    config = resolve_local(settings, repo, rev, flags)
    if not config.model:
        raise UsageError(
            "no model: pass --model or set REPOMIND_MODEL (a litellm model string), "
            "or `model` in the repository's .github/repomind.yml"
        )
    run_id = new_run_id()
    out_dir = out or settings.runs_dir / run_id
    if out_dir.exists() and any(out_dir.iterdir()):
        raise UsageError(f"--out {out_dir} is not empty: choose a new directory")
    with status(f"solving in {out_dir}") as progress:
        parts = build_run(settings, config, boundaries=ctx.boundaries, log=progress)
        request = parts.request(repo, text, out_dir, rev=rev, keep_work_trees=keep_work_trees, run_id=run_id)
        events = RunEvents(progress_lines(progress))
        report = parts.strategy.solve(
            request, model=parts.model, sandbox=parts.sandbox, localiser=parts.localiser, events=events
        )
    data = report.to_json()
    if as_json:
        click.echo(json.dumps(data, indent=2))
    verdict = "passed" if report.success else "no patch passed"
    cost = "unknown cost" if data["cost_usd"] is None else f"${data['cost_usd']:.4f}"
    click.echo(
        f"{verdict} after {data['attempts']} attempt(s) ({data['tokens']} tokens, {cost}): {report.message}\n"
        f"{_evidence(data['tests'])}artifacts: {out_dir}",
        err=True,
    )
    sys.exit(0 if report.success else 1)


def _evidence(verdict: dict[str, Any]) -> str:
    """The kept attempt's evidence tests, those the issue named apart from those it did not."""
    f2p: list[str] = verdict.get("fail_to_pass") or []
    unnamed = set(verdict.get("unnamed") or [])
    named = [t for t in f2p if t not in unnamed]
    lines = [f"evidence tied to the issue: {', '.join(named)}\n"] if named else []
    if unnamed:
        lines.append(f"evidence not named in the issue: {', '.join(t for t in f2p if t in unnamed)}\n")
    return "".join(lines)


def _issue(issue_file: Path | None, issue_text: str | None, issue_url: str | None, ctx: Context) -> str:
    if sum(x is not None for x in (issue_file, issue_text, issue_url)) != 1:
        raise UsageError("give exactly one of --issue-file, --issue-text and --issue")
    if issue_url is not None:
        from repomind.bot.commands.issue_url import fetch_issue

        token = ctx.settings.github_token
        _repo, issue = fetch_issue(
            issue_url,
            api_url=ctx.settings.github_api_url,
            token=token.get_secret_value() if token else None,
            web_url=ctx.settings.github_web_url,
        )
        text = f"{issue.title}\n\n{issue.body}"
    elif issue_file is not None:
        try:
            text = issue_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --issue-file {issue_file}: {exc}") from exc
    else:
        text = issue_text or ""
    if not text.strip():
        raise UsageError("the issue is empty")
    return text
