"""Solve benchmark: where a run's time goes, with a scripted model so that only Repomind is measured.

    .venv/bin/python bench/solve.py [--runs 5] [--out bench/out/solve.json]

Each run solves a small fixture issue in the real Docker sandbox with litellm pointed at the stand-in
server: the first reply fixes the wrong thing, the second fixes the bug. Prints the median seconds of
each phase (localise, environment, per attempt, total) and the calls and tokens of one run, as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from repomind.pipeline.llm import LiteLLMModel
from repomind.pipeline.solve import SolveRequest, solve
from repomind.sandbox import DockerSandbox
from repomind.testing import StandInLLMServer, make_git_repo

FILES = {
    "calc/__init__.py": "",
    "calc/ops.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "tests/test_ops.py": (
        "from calc.ops import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_mul():\n    assert mul(2, 3) == 6\n"
    ),
}
ISSUE = "add(2, 3) gives -1; tests/test_ops.py::test_add fails."


def reply(new: str) -> str:
    return f"calc/ops.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n{new}\n>>>>>>> REPLACE\n```\n"


def one_run(box: DockerSandbox, root: Path) -> dict[str, Any]:
    repo = make_git_repo(root / "repo", FILES)
    with StandInLLMServer([reply("    return a * b"), reply("    return a + b")]) as server:
        model = LiteLLMModel("openai/stand-in", api_base=server.url)
        report = solve(SolveRequest(str(repo), ISSUE, root / "run"), model=model, sandbox=box)
    data = report.to_json()
    assert data["success"] and data["attempts"] == 2, data["message"]
    return {
        **data["timings"],
        "attempt_1": data["attempt_details"][0]["seconds"],
        "attempt_2": data["attempt_details"][1]["seconds"],
        "tokens": data["tokens"],
        "sandbox_commands": sum(
            1 for _ in (root / "run" / "trajectory.jsonl").read_text().splitlines() if '"type": "tests"' in _
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/out/solve.json"))
    args = parser.parse_args()
    box = DockerSandbox()
    results = []
    for i in range(args.runs + 1):  # the first run warms the environment cache and is not counted
        with tempfile.TemporaryDirectory(prefix="repomind-bench-solve-") as tmp:
            result = one_run(box, Path(tmp))
        if i:
            results.append(result)
    keys = ["localise", "environment", "attempt_1", "attempt_2", "attempts", "total"]
    summary = {
        "runs": len(results),
        "median_s": {k: round(statistics.median(r[k] for r in results), 3) for k in keys},
        "tokens_per_run": results[0]["tokens"],
        "sandbox_commands_per_run": results[0]["sandbox_commands"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "runs": results}, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
