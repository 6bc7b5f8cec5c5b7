"""Plots beside an evaluation report: accuracy at k, coverage against confidence, set sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.pipeline.localise.calibrate import Calibration

CONFIDENCES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def write_plots(out_dir: Path, records: list[dict[str, Any]], calibration: Calibration | None) -> list[Path]:
    """PNG files written; none when matplotlib is missing or there is nothing to plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    if not records:
        return []
    written = []
    ks = list(range(1, 21))

    def acc(key: str) -> list[float]:
        return [sum(1 for r in records if r.get(key) and r[key] <= k) / len(records) for k in ks]

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ks, acc("hit_rank"), marker="o", label="Repomind")
    if "baseline_hit_rank" in records[0]:
        ax.plot(ks, acc("baseline_hit_rank"), marker="s", label="plain BM25, whole files")
    ax.set(
        xlabel="k", ylabel="all changed files in the top k", ylim=(0, 1), title="Localisation accuracy at k"
    )
    ax.grid(alpha=0.3)
    ax.legend()
    written.append(_save(fig, out_dir / "accuracy_at_k.png"))

    if calibration is not None:
        from repomind.eval.localise.evaluate import apply_calibration

        points = []
        for confidence in CONFIDENCES:
            stats = apply_calibration([dict(r) for r in records], calibration, confidence)
            if stats["coverage"] is not None:
                points.append((confidence, stats["coverage"], stats["mean_set_size"]))
        if points:
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label="empirical coverage")
            ax.plot([0.5, 1], [0.5, 1], linestyle="--", color="grey", label="target")
            for c, cov, size in points:
                ax.annotate(
                    f"{size:.1f} files", (c, cov), textcoords="offset points", xytext=(4, -12), fontsize=7
                )
            ax.set(xlabel="confidence asked", ylabel="coverage", title="Conformal coverage (marginal)")
            ax.grid(alpha=0.3)
            ax.legend()
            written.append(_save(fig, out_dir / "coverage.png"))
        sizes = [r["set_size"] for r in records if "set_size" in r]
        if not sizes:  # records not yet judged: show the sets at the default confidence
            judged = [dict(r) for r in records]
            apply_calibration(judged, calibration, 0.9)
            sizes = [r["set_size"] for r in judged if "set_size" in r]
        if sizes:
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.hist(sizes, bins=range(0, max(sizes) + 2), align="left", rwidth=0.8)
            ax.set(xlabel="files in the calibrated set", ylabel="instances", title="Calibrated set sizes")
            written.append(_save(fig, out_dir / "set_sizes.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
