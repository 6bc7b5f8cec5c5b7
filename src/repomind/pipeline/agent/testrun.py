"""What ``run_tests`` tells the model of a test run: the command, the outcome per test (failed ones
first, passed ones counted and listed compactly) and the failing tests' output, trimmed."""

from __future__ import annotations

import shlex
from collections import Counter
from typing import Any

from repomind.pipeline.solve.verify import TestRun
from repomind.pipeline.toolchain.protocol import GOOD, Toolchain, trim

#: The failing tests' output shown after a run.
FAILURE_CHARS = 4_000
#: Passed tests named one by one; the rest are counted.
PASSED_NAMED = 40
_ORDER = ("failed", "error", "passed", "skipped", "xfailed", "xpassed")


def render(run: TestRun, reason: str, toolchain: Toolchain) -> tuple[str, str, dict[str, Any]]:
    """``(text, outcome, data)`` of one run: ``outcome`` such as "1 failed, 3 passed"."""
    parts = [f"$ {shlex.join(run.argv)}", f"({reason}; {run.seconds:g} s, exit code {run.exit_code})"]
    data = {"argv": list(run.argv), "exit_code": run.exit_code, "results": run.results, "reason": reason}
    if run.timed_out:
        parts += ["The tests timed out. The end of their output:", trim(run.log, FAILURE_CHARS)]
        return "\n".join(parts), "timed out", data
    if not run.results:
        parts += ["No per-test outcome could be read. The output:", trim(run.log, FAILURE_CHARS)]
        return "\n".join(parts), f"exit code {run.exit_code}", data
    counts = Counter(run.results.values())
    summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts, key=_rank))
    parts.append(f"Result: {summary}.")
    failed = run.failed_ids()
    broken = [t for t in failed if run.results[t] not in ("skipped", "xfailed", "xpassed")]
    for test in failed:
        parts.append(f"{run.results[test].upper()} {test}")
    passed = [t for t, o in run.results.items() if o in GOOD]
    if passed:
        shown = ", ".join(passed[:PASSED_NAMED])
        shown += f" and {len(passed) - PASSED_NAMED} more" if len(passed) > PASSED_NAMED else ""
        parts.append(f"Passed ({len(passed)}): {shown}")
    if broken:
        parts += ["", "Output of the failing tests:"]
        parts.append(toolchain.failure_sections(run.log, broken, limit=FAILURE_CHARS))
    return "\n".join(parts), summary, data


def _rank(outcome: str) -> int:
    return _ORDER.index(outcome) if outcome in _ORDER else len(_ORDER)


def usable_target(target: object) -> bool:
    """A test file or id, never an option (``-x``), an argument file (``@args``) or a path outside."""
    if not isinstance(target, str) or not target.strip() or len(target) > 1000:
        return False
    text = target.strip()
    if any(c in text for c in "\0\n\r") or text.startswith(("-", "@", "/", "~")):
        return False
    return ".." not in text.split("::")[0].split("/")
