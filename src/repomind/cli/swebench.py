"""`repomind eval swebench`: resolve rate on SWE-bench-format data, evaluated in the sandbox."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from repomind.cli.context import Context, pass_ctx
from repomind.cli.localise import evaluate
from repomind.errors import UsageError

if TYPE_CHECKING:
    from repomind.compose import Overrides


def available_pythons(box: Any) -> tuple[str, ...]:
    """:func:`repomind.eval.swebench.batch.available_pythons`."""
    from repomind.eval.swebench import batch

    return batch.available_pythons(box)


@evaluate.command("swebench")
@click.option("--dataset", required=True, type=click.Path(path_type=Path), help="SWE-bench-format JSONL.")
@click.option(
    "--repos", required=True, type=click.Path(path_type=Path), help="Directory of owner__name repositories."
)
@click.option("--predictions", default=None, help="Predictions JSONL (official format), `gold` or `empty`.")
@click.option("--model", default=None, help="Run `solve` with this litellm model on each instance.")
@click.option("--api-base", default=None, help="An OpenAI-compatible server for --model.")
@click.option("--strategy", default=None, help="How --model solves each issue (default: REPOMIND_STRATEGY).")
@click.option(
    "--max-steps", type=click.IntRange(1, 200), default=None, help="The agent's step limit for --model."
)
@click.option("--instances", default=None, help="Comma-separated instance ids (default all).")
@click.option("--resume", is_flag=True, help="Keep the verdicts already in --out; evaluate the rest.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Instances at once."
)
@click.option("--harness", "harness_kind", type=click.Choice(["local", "official"]), default="local")
@click.option("--check-before", is_flag=True, help="Also run the tests before the patch (F2P must fail).")
@click.option(
    "--python-fallback", is_flag=True, help="Use the nearest newer Python where the spec's is missing."
)
@click.option(
    "--specs",
    "specs_file",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON {repo: {version: spec}} used before swebench's own specifications.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@pass_ctx
def eval_swebench(
    ctx: Context,
    dataset: Path,
    repos: Path,
    predictions: str | None,
    model: str | None,
    api_base: str | None,
    strategy: str | None,
    max_steps: int | None,
    instances: str | None,
    resume: bool,
    workers: int,
    harness_kind: str,
    check_before: bool,
    python_fallback: bool,
    specs_file: Path | None,
    out: Path,
) -> None:
    """Evaluate predictions (or the pipeline itself) on SWE-bench instances; write verdicts and a report."""
    from repomind.compose import Overrides
    from repomind.eval.swebench import jsonl as ds
    from repomind.eval.swebench import official

    if (predictions is None) == (model is None):
        raise UsageError("give exactly one of --predictions (a file, gold or empty) and --model")
    if strategy is not None and model is None:
        raise UsageError("--strategy is how --model solves: give --model too")
    if max_steps is not None and model is None:
        raise UsageError("--max-steps limits how --model solves: give --model too")
    items = ds.load_instances(dataset, ds.parse_ids(instances))
    if not repos.is_dir():
        raise UsageError(f"--repos {repos} is not a directory")
    left_out: tuple[str, ...] = ()
    if predictions in (ds.GOLD, ds.EMPTY):
        given = ds.builtin_predictions(predictions, items)
    elif predictions is not None:
        loaded = ds.load_predictions(Path(predictions), items)
        given, left_out = loaded.predictions, loaded.left_out
        if left_out:
            click.echo(f"warning: {left_out_message(left_out)}", err=True)
    else:
        given = {}
    if harness_kind == "official":
        if model is not None:
            raise UsageError("--harness official evaluates predictions: give --predictions, not --model")
        out.mkdir(parents=True, exist_ok=True)
        pred_path = out / "predictions.jsonl"
        ds.write_predictions(pred_path, [given[i.instance_id] for i in items if i.instance_id in given])
        argv = official.command(
            dataset.resolve(),
            pred_path.resolve(),
            out.name,
            instance_ids=ds.parse_ids(instances) or (),
            workers=workers,
            report_dir=out.resolve(),
        )
        click.echo("$ " + " ".join(argv), err=True)
        sys.exit(official.run(argv, out))
    from repomind.eval.swebench import specs

    lookup = specs.overlay(specs_file) if specs_file else specs.swebench_specs
    source = f"model {model}" if model is not None else str(predictions)
    _run_local(
        ctx,
        items,
        given,
        repos,
        out,
        model,
        api_base,
        Overrides(model=model, api_base=api_base, strategy=strategy, max_steps=max_steps),
        resume,
        workers,
        check_before,
        python_fallback,
        lookup,
        source,
        left_out,
    )


def left_out_message(left_out: tuple[str, ...]) -> str:
    """What stderr says of the predictions left out: how many, and the first few ids."""
    from repomind.eval.swebench.report import SHOWN_LEFT_OUT

    shown = ", ".join(left_out[:SHOWN_LEFT_OUT]) + (" ..." if len(left_out) > SHOWN_LEFT_OUT else "")
    return (
        f"{len(left_out)} prediction{'s' if len(left_out) != 1 else ''} left out: no instance to "
        f"evaluate (in --dataset, or among --instances) has {'their' if len(left_out) != 1 else 'its'} id "
        f"({shown}); the instances both have are evaluated, as the official harness does"
    )


def _run_local(
    ctx: Context,
    items: list[Any],
    given: dict[str, Any],
    repos: Path,
    out: Path,
    model: str | None,
    api_base: str | None,
    flags: Overrides,
    resume: bool,
    workers: int,
    check_before: bool,
    python_fallback: bool,
    lookup: Any,
    source: str,
    left_out: tuple[str, ...] = (),
) -> None:
    from repomind.compose.run import limits
    from repomind.eval.swebench import batch, report
    from repomind.eval.swebench.jsonl import Prediction
    from repomind.progress import bar

    if out.exists() and any(out.iterdir()) and not resume:
        raise UsageError(f"--out {out} is not empty: pass --resume to continue it, or choose a new directory")
    settings = ctx.settings
    box_limits = limits(settings)
    box = ctx.boundaries.sandbox(box_limits, allowed_images=(), log=lambda _m: None)
    if model is not None:
        predict = _solve_predictor(ctx, box, model, flags)
    else:

        def predict(instance: Any, _repo: Path, _dir: Path) -> tuple[Prediction, dict[str, Any]]:
            found = given.get(instance.instance_id)
            return found or Prediction(instance.instance_id, "none", ""), {}

    config = batch_config(
        settings,
        box,
        repos=repos,
        out=out,
        lookup=lookup,
        python_fallback=python_fallback,
        workers=workers,
        resume=resume,
        check_before=check_before,
    )
    from repomind.log import get_logger

    logger: Any = get_logger("repomind.swebench")
    with bar("evaluating") as progress:
        result = batch.run(
            items,
            predict,
            box,
            config,
            progress=progress,
            warn=lambda m: click.echo(f"warning: {m}", err=True),
            log=lambda m: logger.info(m),
        )
    meta = {
        "predictions": source,  # gold, empty, a file's path, or "model M"
        "workers": batch.max_workers(workers),
        "check_before": check_before,
    }
    data = report.write(out, result.records, result.skipped, meta, left_out=left_out)
    brief = {k: v for k, v in data["summary"].items() if k != "skipped"}
    brief["skipped"] = len(result.skipped)
    json.dump(brief, sys.stdout, indent=1)
    sys.stdout.write("\n")


def batch_config(settings: Any, box: Any, **kwargs: Any) -> Any:
    """:func:`repomind.eval.swebench.batch.run_config` (``bench/agent_oracle.py`` runs with it too)."""
    from repomind.eval.swebench import batch

    return batch.run_config(settings, box, **kwargs)


def _solve_predictor(ctx: Context, box: Any, model: str, flags: Overrides) -> Any:
    """``solve`` on each instance (:func:`repomind.eval.swebench.model.composed_solve`), grading in the
    same sandbox."""
    from repomind.eval.swebench.model import composed_solve, solve_predictor

    one = composed_solve(ctx.settings, flags, sandbox=box, boundaries_for=lambda _instance: ctx.boundaries)
    return solve_predictor(model, one)
