"""The agent's tools on real repositories: an oracle model reproduces each gold patch through the agent.

    python bench/agent_oracle.py [--dataset F] [--repos DIR] [--instances IDS] [--resume] [--out DIR]
    python bench/agent_oracle.py --from DIR          # summarise a run already made

For each SWE-bench instance, the `agent` strategy runs with :class:`repomind.eval.oracle.OracleAgentModel`
(search for a line of each hunk, view around it, edit hunk by hunk, run the tests, submit), composed and
graded exactly as `repomind eval swebench --model M --strategy agent` composes and grades (the same
predictor, batch runner, environments and grading: nothing is re-implemented here). Environments are the
cached `repomind-env/...` images; an instance whose environment does not build is `unavailable`.
Set `REPOMIND_EMBEDDING_MODEL=none` to skip the dense localisation signal (the oracle does not need it).

Prints JSON: per instance whether it was resolved, the agent's steps, the seconds in all (solve and
grading), the seconds of the loop's own machinery (from `agent-start` to the end of the run, less the
`run_tests` steps, the verifications of `submit` and environment setup), and the prompt tokens of each
step; and a summary: resolved / evaluated, the median machinery overhead (target: under 2 s) and the
median and largest prompt per step against the configured `max_prompt_tokens`. Outputs go to
bench/out/agent-oracle/ unless --out says otherwise; `--resume` keeps the instances already graded there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = Path("/work/shared") if Path("/work/shared").is_dir() else HERE.parent.parent / "shared"
REPOS = Path("/work/repos") if Path("/work/repos").is_dir() else HERE.parent.parent / "repos"
OUT = HERE / "out" / "agent-oracle"
# bench/swebench.py would shadow the `swebench` package the grading imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def run(args: argparse.Namespace) -> Path:
    """Solve and grade the instances with the oracle, through `eval swebench`'s own parts."""
    from repomind.cli.swebench import batch_config
    from repomind.compose import Boundaries, Overrides
    from repomind.compose.run import docker_sandbox, limits
    from repomind.eval.oracle import OracleAgentModel
    from repomind.eval.swebench import batch, report
    from repomind.eval.swebench import jsonl as ds
    from repomind.eval.swebench.model import composed_solve, solve_predictor
    from repomind.pipeline.instance import Instance
    from repomind.settings import Settings

    settings = Settings()
    items = ds.load_instances(args.dataset, ds.parse_ids(args.instances))
    out: Path = args.out.resolve()  # the harness changes directory: a relative --out would move
    if out.exists() and any(out.iterdir()) and not args.resume:
        sys.exit(f"--out {out} is not empty: pass --resume to continue it, or choose a new directory")
    box = docker_sandbox(limits(settings), allowed_images=(), log=lambda _m: None)

    def boundaries_for(instance: Instance) -> Boundaries:
        def oracle(name: str, **_kw: Any) -> OracleAgentModel:
            return OracleAgentModel(instance.patch, model=name)

        return Boundaries(model=oracle)

    flags = Overrides(model="oracle", strategy=args.strategy, max_steps=args.max_steps)
    one = composed_solve(settings, flags, sandbox=box, boundaries_for=boundaries_for)
    predict = solve_predictor("oracle", one)

    def timed(instance: Instance, repo: Path, directory: Path) -> tuple[Any, dict[str, Any]]:
        start = time.monotonic()
        prediction, extra = predict(instance, repo, directory)
        return prediction, {**extra, "solve_s": round(time.monotonic() - start, 2)}

    config = batch_config(settings, box, repos=args.repos, out=out, resume=args.resume)
    result = batch.run(
        items,
        timed,
        box,
        config,
        progress=lambda done, total, line: print(f"[{done}/{total}] {line}", file=sys.stderr, flush=True),
        warn=lambda m: print(f"warning: {m}", file=sys.stderr),
    )
    report.write(out, result.records, result.skipped, {"predictions": "oracle", "strategy": args.strategy})
    return out


def _time(line: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(line["time"]).timestamp()


def trajectory_metrics(path: Path) -> dict[str, Any]:
    """From one run's ``trajectory.jsonl``: the steps' prompt tokens, the limit, and the seconds of the
    loop's own machinery: ``agent-start`` to the run's end, less the ``run_tests`` steps and the
    verifications of ``submit`` (test runs in the sandbox, before and after) and any environment setup."""
    if not path.is_file():
        return {}
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    start = next((x for x in lines if x["type"] == "agent-start"), None)
    steps = [x for x in lines if x["type"] == "step"]
    if start is None:
        return {"steps": len(steps)}
    after = [x for x in lines if x["seq"] >= start["seq"]]
    tests = sum(float(x.get("seconds") or 0) for x in steps if x.get("tool") == "run_tests")
    verifying = sum(
        float(x.get("seconds") or 0) for x in steps if x.get("tool") == "submit" and x.get("attempt")
    )
    setup = sum(float(x.get("seconds") or 0) for x in after if x["type"] == "environment")
    loop = _time(after[-1]) - _time(start)
    return {
        "steps": len(steps),
        "loop_s": round(loop, 3),
        "run_tests_s": round(tests, 3),
        "verification_s": round(verifying, 3),
        "machinery_s": round(max(0.0, loop - tests - verifying - setup), 3),
        "prompt_tokens": [int(x.get("prompt_tokens") or 0) for x in steps],
        "max_prompt_tokens": start.get("max_prompt_tokens"),
    }


def summary(out: Path) -> dict[str, Any]:
    instances: dict[str, Any] = {}
    for verdict_file in sorted((out / "instances").glob("*/verdict.json")):
        record = json.loads(verdict_file.read_text())
        directory = verdict_file.parent
        metrics = trajectory_metrics(directory / "solve" / "trajectory.jsonl")
        solved = directory / "solve_report.json"
        steps = json.loads(solved.read_text()).get("steps") if solved.is_file() else None
        instances[record["instance_id"]] = {
            "verdict": record["verdict"],
            "resolved": record["verdict"] == "resolved",
            "reason": record.get("reason") if record["verdict"] != "resolved" else None,
            "steps": steps if steps is not None else metrics.get("steps"),
            "seconds": round(float(record.get("solve_s") or 0) + float(record.get("total_s") or 0), 2),
            "machinery_s": metrics.get("machinery_s"),
            "loop_s": metrics.get("loop_s"),
            "run_tests_s": metrics.get("run_tests_s"),
            "verification_s": metrics.get("verification_s"),
            "prompt_tokens": metrics.get("prompt_tokens", []),
            "max_prompt_tokens": metrics.get("max_prompt_tokens"),
            "error": record.get("prediction_error"),
        }
    graded = [r for r in instances.values() if r["verdict"] != "unavailable"]
    overhead = [r["machinery_s"] for r in graded if r["machinery_s"] is not None]
    per_step = [t for r in graded for t in r["prompt_tokens"]]
    limits = {r["max_prompt_tokens"] for r in graded if r["max_prompt_tokens"]}
    return {
        "out": str(out),
        "instances": instances,
        "summary": {
            "n": len(instances),
            "evaluated": len(graded),
            "resolved": sum(r["resolved"] for r in graded),
            "unavailable": len(instances) - len(graded),
            "not_resolved": sorted(i for i, r in instances.items() if r["verdict"] == "unresolved"),
            "median_machinery_s": statistics.median(overhead) if overhead else None,
            "machinery_target_s": 2.0,
            "median_prompt_tokens": statistics.median(per_step) if per_step else None,
            "max_prompt_tokens_seen": max(per_step) if per_step else None,
            "max_prompt_tokens_limit": max(limits) if limits else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=SHARED / "data" / "swebench-lite-dev.jsonl")
    parser.add_argument("--repos", type=Path, default=REPOS)
    parser.add_argument("--instances", default=None, help="Comma-separated instance ids (default all).")
    parser.add_argument("--resume", action="store_true", help="Keep the instances already graded in --out.")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--strategy", default="agent")
    parser.add_argument("--max-steps", type=int, default=None, help="The agent's step limit (default 40).")
    parser.add_argument("--from", dest="existing", type=Path, default=None, help="Summarise this run.")
    args = parser.parse_args()
    out = args.existing or run(args)
    json.dump(summary(out), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
