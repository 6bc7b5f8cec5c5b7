"""Predictions from Repomind's own pipeline: ``solve`` on each instance, its ``patch.diff`` as the patch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repomind.eval.swebench.jsonl import Prediction
from repomind.pipeline.instance import Instance


def solve_predictor(
    model_name: str,
    run_solve: Callable[[Instance, Path, Path], Any],
) -> Callable[[Instance, Path, Path], tuple[Prediction, dict[str, Any]]]:
    """Wrap a composed ``solve`` (instance, repository, run directory → SolveReport) as a predictor."""

    def predict(instance: Instance, repo: Path, directory: Path) -> tuple[Prediction, dict[str, Any]]:
        run_dir = directory / "solve"
        report = run_solve(instance, repo, run_dir)
        patch_file = run_dir / "patch.diff"
        patch = patch_file.read_text() if patch_file.is_file() else ""
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


def localisation_metrics(localisation: dict[str, Any], gold: list[str]) -> dict[str, Any]:
    """Whether every gold file was in the calibrated set (or the ranking's top files when no set)."""
    ranked = [c if isinstance(c, str) else c.get("path") for c in localisation.get("candidates", [])]
    chosen = localisation.get("set") or ranked[:10]
    if not chosen or not gold:
        return {}
    return {"localisation_hit": all(g in chosen for g in gold), "localised_files": len(chosen)}
