"""Plots beside a replay's report: resolve rate and coverage, and cost and seconds per task."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_plots(out_dir: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> list[Path]:
    """PNG files written; none when matplotlib is missing or there is nothing to plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    if not rows:
        return []
    written = []
    fig, ax = plt.subplots(figsize=(5, 4))
    names = ["resolved", "localisation covered"]
    values = [summary.get("resolve_rate") or 0.0, summary.get("coverage") or 0.0]
    bars = ax.bar(names, values, color=["tab:green", "tab:blue"])
    ax.bar_label(bars, labels=[f"{v:.0%}" for v in values])
    ax.set(ylim=(0, 1.12), ylabel=f"share of {summary.get('n', 0)} tasks", title="Backtest on the history")
    written.append(_save(fig, out_dir / "resolve_rate.png"))

    ids = [str(r["instance_id"]) for r in rows]
    colours = ["tab:green" if r["resolved"] else "tab:red" for r in rows]
    fig, (cost, seconds) = plt.subplots(2, 1, figsize=(max(6, 0.4 * len(rows) + 2), 6), sharex=True)
    cost.bar(ids, [float(r["cost_usd"] or 0) for r in rows], color=colours)
    cost.set(ylabel="cost (USD)", title="Per task (green: resolved)")
    seconds.bar(ids, [float(r["seconds"] or 0) for r in rows], color=colours)
    seconds.set(ylabel="seconds")
    seconds.tick_params(axis="x", labelrotation=60, labelsize=7)
    written.append(_save(fig, out_dir / "per_task.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
