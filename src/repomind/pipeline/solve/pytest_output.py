"""Per-test outcomes from pytest's ``-rA`` short summary, and the command lines that ask for it."""

from __future__ import annotations

import re
import shlex

#: Options added to every pytest run: the full short summary, no cache written, short tracebacks,
#: and the other files still run when one cannot be collected.
PYTEST_OPTIONS = ("-rA", "-q", "-p", "no:cacheprovider", "--tb=short", "--continue-on-collection-errors")
_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)\s+(\S.*?)(?:\s+-\s+(.*))?$")
_OUTCOMES = {
    "PASSED": "passed",
    "FAILED": "failed",
    "ERROR": "error",
    "XFAIL": "xfailed",
    "XPASS": "xpassed",
    "SKIPPED": "skipped",
}
#: Outcomes that count as a pass when comparing runs.
GOOD = frozenset({"passed", "xfailed", "xpassed", "skipped"})
#: pytest exit statuses: 0 all passed, 1 some failed, 2 interrupted, 3 internal error, 4 usage error, 5 none.
PYTEST_BROKEN = frozenset({3, 4})


def pytest_argv(paths: list[str] | tuple[str, ...] = ()) -> list[str]:
    return ["python", "-m", "pytest", *PYTEST_OPTIONS, *paths]


def configured_argv(command: str) -> list[str]:
    """A configured test command, run so that any pytest inside it prints the ``-rA`` summary."""
    return ["env", f"PYTEST_ADDOPTS={shlex.join(PYTEST_OPTIONS[:4])}", "bash", "-c", command]


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


def trim(text: str, limit: int) -> str:
    """Keep the start and the end of a long text (the end of a test log says the most)."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    return f"{text[:head]}\n... ({len(text) - limit} characters left out) ...\n{text[-tail:]}"
