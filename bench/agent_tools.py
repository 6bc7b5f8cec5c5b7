"""Agent tool latency on a large real repository (sympy): ``search``, ``view`` and ``edit`` with lint.

    PYTHONPATH=src .venv/bin/python bench/agent_tools.py [--repo /work/repos/sympy__sympy] [--rev REV]
        [--work /tmp/repomind-bench-agent-tools] [--repeat 5]

The repository is cloned (``--shared``, read only) into ``--work`` and the agent's work tree is made from
it exactly as a run makes it (:class:`repomind.pipeline.solve.workspace.Workspace`), then each tool is
timed through :class:`repomind.pipeline.agent.tools.ToolBox`:

* ``search``: realistic regexes (a method name, a class pattern, a module name with hundreds of matches,
  an alternation, a raise pattern), with and without a ``path_glob``;
* ``view``: windows in several large files (the largest holding 8,000+ lines), outline included;
* ``edit``: a real edit (a statement inserted before a unique ``return`` line) in the largest source files,
  linted with pyflakes against the text before it; each repetition inserts a different statement (so the
  text after an edit is never one linted before) and the file is restored with git between repetitions.

``run_tests`` is not timed here (its time is the sandbox's). One untimed call of each tool warms the
page cache first; each ``view`` is made by a fresh ToolBox, so no outline is reused. Besides wall time,
each call's CPU time (this process and git) is reported: the machine's cores are shared, and the load
average at the start and the end is printed with the numbers. Prints JSON to stdout (median and worst
per tool against the targets of issue #19: search ≤ 200 ms, view ≤ 50 ms, edit ≤ 300 ms); progress goes
to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from repomind.pipeline.agent.tools import Observation, ToolBox
from repomind.pipeline.issue import Mentions
from repomind.pipeline.llm import Budget
from repomind.pipeline.solve.attempt import AttemptContext
from repomind.pipeline.solve.events import RunEvents
from repomind.pipeline.solve.workspace import Workspace, run_git
from repomind.pipeline.toolchain.python import PythonToolchain
from repomind.sandbox.types import EnvironmentSpec
from repomind.testing import FakeSandbox, ScriptedModel

TARGETS_MS = {"search": 200.0, "view": 50.0, "edit": 300.0}
SEARCHES: list[tuple[str, str | None]] = [
    ("def _eval_is_positive", None),
    (r"class \w+\(Expr\)", "sympy/core/**/*.py"),
    ("polytools", None),
    (r"def (simplify|nsimplify)\(", None),
    ("Piecewise", "sympy/functions/**/*.py"),
    (r"raise ValueError\(", None),
    (r"is_zero\b", "sympy/core/*.py"),
    (r"^from sympy\.polys\.polytools import", "sympy/**/*.py"),
]
VIEWS: list[tuple[str, int, int, int]] = [
    ("sympy/polys/polytools.py", 4000, 5, 100),
    ("sympy/core/expr.py", 1, 0, 100),
    ("sympy/solvers/solvers.py", 900, 20, 80),
    ("sympy/simplify/simplify.py", 400, 0, 100),
    ("sympy/printing/latex.py", 2000, 10, 60),
    ("sympy/core/basic.py", 1200, 0, 40),
]
EDITS = ["sympy/polys/polytools.py", "sympy/core/expr.py", "sympy/solvers/solvers.py"]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def toolbox(repo: str, rev: str | None, work: Path) -> tuple[ToolBox, Workspace]:
    workspace = Workspace.create(repo, rev, work)
    tree = workspace.work_tree("agent")
    sandbox = FakeSandbox()
    env = sandbox.prepare(tree, EnvironmentSpec("sympy"))
    ctx = AttemptContext(
        ScriptedModel([]),
        sandbox,
        env,
        workspace,
        RunEvents(),
        Budget(),
        Mentions(),
        None,
        PythonToolchain(),
    )
    return ToolBox(ctx, tree, shown=set()), workspace


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (git grep): what the call cost on an idle
    machine, whatever else shares the cores."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(call: Callable[[], Observation], cpu: list[float]) -> tuple[float, Observation]:
    """Wall milliseconds of one call (its CPU milliseconds appended to ``cpu``)."""
    start, start_cpu = time.perf_counter(), cpu_s()
    obs = call()
    cpu.append((cpu_s() - start_cpu) * 1000)
    return (time.perf_counter() - start) * 1000, obs


def edit_case(tools: ToolBox, path: str, rep: int) -> tuple[str, str]:
    """A unique ``return`` line past the middle of ``path``, and the same line with a statement before it."""
    lines = (tools.tree / path).read_text().splitlines()
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    for line in lines[len(lines) // 2 :]:
        if line.strip().startswith("return ") and counts[line] == 1:
            indent = line[: len(line) - len(line.lstrip())]
            return line + "\n", f"{indent}_bench_marker_{rep} = {rep}\n{line}\n"
    raise SystemExit(f"no unique return line in {path}")


def spread(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples), 1), "worst_ms": round(max(samples), 1)}


def summary(samples: list[float], cpu: list[float], target: float) -> dict[str, Any]:
    return {
        "calls": len(samples),
        "median_ms": round(statistics.median(samples), 1),
        "worst_ms": round(max(samples), 1),
        "cpu_median_ms": round(statistics.median(cpu), 1),
        "cpu_worst_ms": round(max(cpu), 1),
        "target_ms": target,
        "median_ok": statistics.median(samples) <= target,
        "worst_ok": max(samples) <= target,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default="/work/repos/sympy__sympy")
    parser.add_argument("--rev", default=None, help="the commit to check out (default: HEAD)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/repomind-bench-agent-tools"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    tools, workspace = toolbox(args.repo, args.rev, args.work)
    try:
        progress(f"work tree {tools.tree} at {workspace.commit[:12]}")
        files = len(run_git(tools.tree, "ls-files", "-z").split("\0")) - 1
        samples: dict[str, list[float]] = {"search": [], "view": [], "edit": []}
        cpu: dict[str, list[float]] = {"search": [], "view": [], "edit": []}
        load_before = os.getloadavg()[0]
        cases: list[dict[str, Any]] = []
        tools.search("warm up the page cache")
        tools.view(VIEWS[0][0])
        for regex, glob in SEARCHES:
            for _ in range(args.repeat):
                ms, obs = timed(partial(tools.search, regex, glob), cpu["search"])
                samples["search"].append(ms)
            cases.append(
                {
                    **spread(samples["search"][-args.repeat :]),
                    "tool": "search",
                    "regex": regex,
                    "path_glob": glob,
                    "outcome": obs.outcome,
                }
            )
            progress(f"search {regex!r} {glob or ''}: {obs.outcome}, {ms:.0f} ms")
        for path, line, before, after in VIEWS:
            for _ in range(args.repeat):  # a fresh ToolBox each time: no outline kept from the last view
                fresh = ToolBox(tools.ctx, tools.tree, shown=tools.shown)
                ms, obs = timed(partial(fresh.view, path, line, before, after), cpu["view"])
                samples["view"].append(ms)
            cases.append(
                {
                    **spread(samples["view"][-args.repeat :]),
                    "tool": "view",
                    "path": path,
                    "line": line,
                    "outcome": obs.outcome,
                }
            )
            progress(f"view {path}:{line}: {obs.outcome}, {ms:.0f} ms")
        for path in EDITS:
            size = len((tools.tree / path).read_text().splitlines())
            for rep in range(args.repeat):
                search, replace = edit_case(tools, path, rep)
                ms, obs = timed(partial(tools.edit, path, search, replace), cpu["edit"])
                if not obs.ok or obs.data.get("problems"):
                    raise SystemExit(f"the edit of {path} did not apply cleanly: {obs.text[:500]}")
                samples["edit"].append(ms)
                run_git(tools.tree, "checkout", "--", path)
            cases.append(
                {
                    **spread(samples["edit"][-args.repeat :]),
                    "tool": "edit",
                    "path": path,
                    "lines": size,
                    "outcome": obs.outcome,
                }
            )
            progress(f"edit {path} ({size} lines): {obs.outcome}, {ms:.0f} ms")
        result = {
            "repo": args.repo,
            "commit": workspace.commit,
            "tracked_files": files,
            "cores": len(os.sched_getaffinity(0)),
            "repeat": args.repeat,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "tools": {name: summary(s, cpu[name], TARGETS_MS[name]) for name, s in samples.items()},
            "cases": cases,
        }
    finally:
        workspace.cleanup()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
