"""The pytest command lines the test stage runs, and per-test outcomes from pytest's ``-rA`` summary.

Every run also writes a JUnit XML report (:mod:`repomind.pipeline.toolchain.python.junit`), which
names every test and tells skips and xfails apart: that is the source of the outcomes. The short
summary here is the fallback for a run that left no readable report (a test command that does not run
pytest, a run killed before pytest wrote it), and it supplies exact node ids and ``XPASS`` to the
report's reading. It is less precise: pytest prints a skipped test without its node id, so a skip is
seen as a missing test.
"""

from __future__ import annotations

import re
import shlex

from repomind.pipeline.toolchain.protocol import trim
from repomind.pipeline.toolchain.python import junit

#: Options given to every pytest run (a configured command gets them through ``PYTEST_ADDOPTS``): the
#: full short summary, no cache written, and the JUnit XML report.
ADDOPTS = ("-rA", "-q", "-p", "no:cacheprovider", *junit.OPTIONS)
#: Options added when Repomind runs pytest itself: short tracebacks, and the other files still run when
#: one cannot be collected.
PYTEST_OPTIONS = (*ADDOPTS, "--tb=short", "--continue-on-collection-errors")
_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)\s+(\S.*?)(?:\s+-\s+(.*))?$")
_OUTCOMES = {
    "PASSED": "passed",
    "FAILED": "failed",
    "ERROR": "error",
    "XFAIL": "xfailed",
    "XPASS": "xpassed",
    "SKIPPED": "skipped",
}
#: pytest exit statuses: 0 all passed, 1 some failed, 2 interrupted, 3 internal error, 4 usage error, 5 none.
PYTEST_BROKEN = frozenset({3, 4})


def pytest_argv(paths: list[str] | tuple[str, ...] = ()) -> list[str]:
    return ["python", "-m", "pytest", *PYTEST_OPTIONS, *paths]


def configured_argv(command: str) -> list[str]:
    """A configured test command, run so that any pytest inside it prints the ``-rA`` summary and writes
    the report (when it runs pytest more than once, the last run's report is read)."""
    return ["env", f"PYTEST_ADDOPTS={shlex.join(ADDOPTS)}", "bash", "-c", command]


def parse(output: str) -> dict[str, str]:
    """``{node id or file: outcome}`` from the short test summary; later lines win over earlier ones."""
    results: dict[str, str] = {}
    in_summary = False
    for line in output.splitlines():
        if "short test summary info" in line:
            in_summary = True
            continue
        if not in_summary:
            continue
        if line.startswith("=") and "short test summary" not in line:
            in_summary = False
            continue
        match = _SUMMARY.match(line.rstrip())
        if not match:
            continue
        kind, node = match.group(1), match.group(2).strip()
        if kind == "SKIPPED":
            continue  # "SKIPPED [1] path:line: reason" names no test id
        results[node] = _OUTCOMES[kind]
    return results


def read_results(output: str, report: bytes | None) -> tuple[dict[str, str], str, str]:
    """``(results, source, note)``: the JUnit report's outcomes (source ``junit``), or the short
    summary's (``summary``) when there is no report or it cannot be used (the note says why)."""
    summary = parse(output)
    if report is None:
        return summary, "summary", "no JUnit report: per-test outcomes from pytest's short summary"
    try:
        cases = junit.parse(report)
    except junit.ReportError as exc:
        return summary, "summary", f"{exc}: per-test outcomes from pytest's short summary"
    return junit.outcomes(cases, summary), "junit", ""


def failure_sections(output: str, node_ids: list[str], *, limit: int = 4000) -> str:
    """The traceback sections of ``node_ids`` (pytest's ``___ name ___`` blocks), trimmed to ``limit``."""
    blocks = re.split(r"^_{3,} (.+?) _{3,}$", output, flags=re.M)
    wanted = {n.split("::", 1)[-1] for n in node_ids} | set(node_ids)
    picked: list[str] = []
    for i in range(1, len(blocks) - 1, 2):
        title, body = blocks[i].strip(), blocks[i + 1]
        name = title.split(" ", 1)[-1] if title.startswith("ERROR at") else title
        if name in wanted or any(name.endswith(w.replace("::", ".")) for w in wanted):
            picked.append(f"{title}\n{body.strip()}")
    text = "\n\n".join(picked) or output
    return trim(text, limit)
