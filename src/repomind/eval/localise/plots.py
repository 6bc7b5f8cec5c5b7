"""Plots beside an evaluation report: accuracy at k, coverage against confidence (overall and per
repository), set sizes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from repomind.pipeline.localise.calibrate import Calibration

if TYPE_CHECKING:
    from repomind.eval.localise.evaluate import CalibrationFor

CONFIDENCES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def write_plots(
    out_dir: Path, records: list[dict[str, Any]], calibration: Calibration | CalibrationFor | None
) -> list[Path]:
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
        from repomind.eval.localise.evaluate import apply_calibration, by_repo

        points, per_repo = [], []
        for confidence in CONFIDENCES:
            judged = [dict(r) for r in records]
            stats = apply_calibration(judged, calibration, confidence)
            if stats["coverage"] is not None:
                points.append((confidence, stats["coverage"], stats["mean_set_size"]))
                per_repo.append((confidence, by_repo(judged)))
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
            written.append(_coverage_by_repo(out_dir / "coverage_by_repo.png", per_repo))
        sizes = [r["set_size"] for r in records if r.get("set_size") is not None]
        if not sizes:  # records not yet judged: show the sets at the default confidence
            judged = [dict(r) for r in records]
            apply_calibration(judged, calibration, 0.9)
            sizes = [r["set_size"] for r in judged if r.get("set_size") is not None]
        if sizes:
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.hist(sizes, bins=range(0, max(sizes) + 2), align="left", rwidth=0.8)
            ax.set(xlabel="files in the calibrated set", ylabel="instances", title="Calibrated set sizes")
            written.append(_save(fig, out_dir / "set_sizes.png"))
    return written


def _coverage_by_repo(path: Path, points: list[tuple[float, dict[str, dict[str, Any]]]]) -> Path:
    """Coverage against confidence, one line per repository (its issue count in the legend)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for repo in sorted(points[-1][1]):
        line = [(c, repos[repo]["coverage"]) for c, repos in points if repos[repo]["coverage"] is not None]
        if line:
            label = f"{repo} ({points[-1][1][repo]['n']})"
            ax.plot([c for c, _ in line], [v for _, v in line], marker="o", markersize=3, label=label)
    ax.plot([0.5, 1], [0.5, 1], linestyle="--", color="grey", label="target")
    ax.set(xlabel="confidence asked", ylabel="coverage", ylim=(0, 1.02), title="Coverage per repository")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
