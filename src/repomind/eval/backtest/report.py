"""The replay's report: per task what the bot localised and whether that covered the gold files, the
verdict, attempts and steps, tokens, cost and seconds; and the summary a maintainer reads first.

``n`` counts the tasks; ``resolve_rate`` and ``coverage`` are over the tasks graded (as in ``eval
swebench``, ``unavailable`` ones, whose environment could not be had here, are counted apart);
``cost_per_resolved_usd`` is the whole replay's model cost over the tasks resolved (None when none was).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from repomind.pipeline.instance import Instance

UNAVAILABLE = "unavailable"


def task_row(task: Instance, record: dict[str, Any] | None) -> dict[str, Any]:
    """One task's line of the report, from its ``eval swebench`` verdict record (None: never graded)."""
    record = record or {"verdict": UNAVAILABLE, "reason": "not evaluated"}
    localised = list(record.get("localised") or [])
    gold = task.gold_files
    seconds = float(record.get("solve_s") or 0) + float(record.get("total_s") or 0)
    return {
        "instance_id": task.instance_id,
        "localised": localised,
        "gold_files": gold,
        "covered": bool(localised) and bool(gold) and all(g in localised for g in gold),
        "verdict": record.get("verdict"),
        "resolved": record.get("verdict") == "resolved",
        "reason": record.get("reason"),
        "attempts": record.get("attempts"),
        "steps": record.get("steps"),
        "tokens": record.get("tokens"),
        "cost_usd": record.get("cost_usd"),
        "seconds": round(seconds, 2),
        "strategy": record.get("strategy"),
        "history": record.get("history"),
        "error": record.get("prediction_error"),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    graded = [r for r in rows if r["verdict"] != UNAVAILABLE]
    resolved = sum(1 for r in graded if r["resolved"])
    cost = sum(float(r["cost_usd"] or 0) for r in rows)
    return {
        "n": len(rows),
        "resolved": resolved,
        "resolve_rate": resolved / len(graded) if graded else None,
        "coverage": sum(1 for r in graded if r["covered"]) / len(graded) if graded else None,
        "cost_per_resolved_usd": cost / resolved if resolved else None,
        "graded": len(graded),
        "unavailable": len(rows) - len(graded),
        "cost_usd": cost,
        "seconds": round(sum(float(r["seconds"] or 0) for r in rows), 2),
    }


def write(
    out: Path, tasks: list[Instance], records: list[dict[str, Any]], meta: dict[str, Any]
) -> dict[str, Any]:
    """``out/report.json`` (``summary``, ``meta``, ``plots``, ``tasks``) and the plots beside it."""
    from repomind.eval.backtest.plots import write_plots

    by_id = {r["instance_id"]: r for r in records}
    rows = [task_row(t, by_id.get(t.instance_id)) for t in tasks]
    summary = summarise(rows)
    names = [p.name for p in write_plots(out, rows, summary)]
    data = {"summary": summary, "meta": meta, "plots": names, "tasks": rows}
    (out / "report.json").write_text(json.dumps(data, indent=1))
    return data
