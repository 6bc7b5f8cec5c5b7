"""Predictions from Repomind's own pipeline: ``solve`` on each instance, its chosen patch predicted."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repomind.eval.swebench.jsonl import Prediction
from repomind.pipeline.instance import Instance

if TYPE_CHECKING:
    from repomind.compose import Boundaries, Overrides
    from repomind.pipeline.solve.request import SolveReport
    from repomind.sandbox.protocol import Sandbox
    from repomind.settings import Settings


def solve_predictor(
    model_name: str,
    run_solve: Callable[[Instance, Path, Path], Any],
) -> Callable[[Instance, Path, Path], tuple[Prediction, dict[str, Any]]]:
    """Wrap a composed ``solve`` (instance, repository, run directory → SolveReport) as a predictor."""

    from repomind.pipeline.solve.request import SolveReport

    def predict(instance: Instance, repo: Path, directory: Path) -> tuple[Prediction, dict[str, Any]]:
        run_dir = directory / "solve"
        if run_dir.exists():  # left by an interrupted run: this one starts afresh (`--resume`)
            shutil.rmtree(run_dir)
        report = run_solve(instance, repo, run_dir)
        # The patch as the work tree has it, not the run's redacted ``patch.diff`` (a repository's own
        # ``ftp://user:pass@`` line, redacted there, would make the prediction not apply).
        patch = report.patch if isinstance(report, SolveReport) else _patch_file(run_dir)
        data = report.to_json() if hasattr(report, "to_json") else {}
        extra: dict[str, Any] = {
            "solve_success": bool(data.get("success")),
            "attempts": data.get("attempts"),
            "tokens": data.get("tokens"),
            "cost_usd": data.get("cost_usd"),
        }
        extra.update(localisation_metrics(data.get("localisation") or {}, instance.gold_files))
        (directory / "solve_report.json").write_text(json.dumps(data, indent=1, default=str))
        return Prediction(instance.instance_id, model_name, patch), extra

    return predict


def _patch_file(run_dir: Path) -> str:
    patch_file = run_dir / "patch.diff"
    return patch_file.read_text() if patch_file.is_file() else ""


def composed_solve(
    settings: Settings,
    flags: Overrides,
    *,
    sandbox: Sandbox,
    boundaries_for: Callable[[Instance], Boundaries],
) -> Callable[[Instance, Path, Path], SolveReport]:
    """``solve`` on one instance, composed as ``repomind solve`` and the bot compose it: the flags over
    the instance's own ``.github/repomind.yml`` at its commit over the settings; the calibration, the
    re-ranker and the budget; the run placed under the instance's repository (``OWNER/NAME``) as the
    bot places it (its own calibration first, its own index); the strategy the flags or the config name.
    Runs in ``sandbox`` (where ``eval swebench`` also grades); ``boundaries_for`` makes each run's model
    (the CLI: the same for every instance; ``bench/agent_oracle.py``: an oracle of the instance's patch).
    An unknown strategy stops here, before any instance."""
    from repomind.compose import build_run, load_embedder, resolve, resolve_local
    from repomind.pipeline.strategies import strategy_for

    strategy_for(resolve(settings, flags=flags).strategy)
    embedder = load_embedder(settings)  # once: loading the model is the slow part

    def one(instance: Instance, repo: Path, run_dir: Path) -> SolveReport:
        config = resolve_local(settings, str(repo), instance.base_commit, flags)
        parts = build_run(
            settings,
            config,
            repo=instance.repo,
            boundaries=boundaries_for(instance),
            embedder=embedder,
            sandbox=sandbox,
        )
        request = parts.request(str(repo), instance.problem_statement, run_dir, rev=instance.base_commit)
        return parts.strategy.solve(
            request, model=parts.model, sandbox=parts.sandbox, localiser=parts.localiser
        )

    return one


def localisation_metrics(localisation: dict[str, Any], gold: list[str]) -> dict[str, Any]:
    """Whether every gold file was in the calibrated set (or the ranking's top files when no set)."""
    ranked = [c if isinstance(c, str) else c.get("path") for c in localisation.get("candidates", [])]
    chosen = localisation.get("set") or ranked[:10]
    if not chosen or not gold:
        return {}
    return {"localisation_hit": all(g in chosen for g in gold), "localised_files": len(chosen)}
