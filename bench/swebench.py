"""SWE-bench evaluation benchmark: gold and empty predictions through `repomind eval swebench`.

    python bench/swebench.py [--dataset F] [--repos DIR] [--instances IDS] [--workers N]
    python bench/swebench.py --from GOLD_DIR [EMPTY_DIR]     # summarise runs already made

Prints JSON: per run the counts, the resolve rate, why instances were unavailable, whether every gold
FAIL_TO_PASS test failed before the patch, and the time per instance with a cold environment (built
in this run) and a cached one. Outputs go to bench/out/swebench-{gold,empty}/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SHARED = HERE.parent.parent / "shared"


def summary(run_dir: Path) -> dict[str, Any]:
    from repomind.eval.swebench import report as report_lib

    report = json.loads((run_dir / "report.json").read_text())
    records = report["instances"]
    cold = [r["total_s"] for r in records if r.get("env_cached") is False]
    cached = [r["total_s"] for r in records if r.get("env_cached") is True]
    checked = [r for r in records if "f2p_fail_before" in r and r["verdict"] != "unavailable"]

    def stats(xs: list[float]) -> dict[str, Any]:
        if not xs:
            return {"n": 0}
        return {"n": len(xs), "median_s": statistics.median(xs), "mean_s": round(statistics.mean(xs), 1)}

    s = report["summary"]
    return {
        "dir": str(run_dir),
        "n": s["n"],
        "skipped": len(s["skipped"]),
        "resolved": s["resolved"],
        "unresolved": s["unresolved"],
        "unavailable": s["unavailable"],
        "resolve_rate": s["resolve_rate"],
        "unavailable_reasons": s["unavailable_reasons"],
        "unavailable_by_cause": s.get("unavailable_by_cause") or report_lib.by_cause(records),
        "not_resolved": [r["instance_id"] for r in records if r["verdict"] == "unresolved"],
        "f2p_all_failed_before": sum(1 for r in checked if not r.get("f2p_pass_before")),
        "f2p_checked": len(checked),
        "time_cold_env": stats(cold),
        "time_cached_env": stats(cached),
        "per_instance": {
            r["instance_id"]: {"s": r.get("total_s"), "cached": r.get("env_cached"), "verdict": r["verdict"]}
            for r in records
        },
    }


def evaluate(kind: str, args: argparse.Namespace) -> Path:
    out = OUT / f"swebench-{kind}"
    shutil.rmtree(out, ignore_errors=True)
    repomind = shutil.which("repomind", path=str(Path(sys.executable).parent)) or "repomind"
    argv = [repomind, "eval", "swebench", "--dataset", str(args.dataset), "--repos", str(args.repos)]
    argv += ["--predictions", kind, "--workers", str(args.workers), "--out", str(out)]
    if kind == "gold":
        argv.append("--check-before")
    if args.instances:
        argv += ["--instances", args.instances]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=os.environ)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=SHARED / "data" / "swebench-lite-dev.jsonl")
    parser.add_argument("--repos", type=Path, default=HERE.parent.parent / "repos")
    parser.add_argument("--instances", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--from", dest="existing", nargs="+", type=Path, default=None)
    args = parser.parse_args()
    if args.existing:
        runs = {p.name: summary(p) for p in args.existing}
    else:
        runs = {kind: summary(evaluate(kind, args)) for kind in ("gold", "empty")}
    json.dump(runs, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
