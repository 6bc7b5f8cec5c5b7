"""Per-test outcomes from pytest's JUnit XML report: every test named, skips and xfails told apart.

The report is written inside the sandbox by the repository's (untrusted) code, so it is read with a size
cap and parsed with expat directly: a document type declaration (and with it every entity declaration,
the "billion laughs" and external entities) is refused, and only the ``testcase`` elements and their
outcome children are looked at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NoReturn
from xml.parsers import expat

#: Where pytest writes the report in the sandbox: under ``/tmp``, outside the copied work tree, so that
#: it never shows in a diff of the work tree.
REPORT_PATH = "/tmp/repomind-junit.xml"
#: pytest options that write it; ``xunit1`` adds each test's ``file`` (``xunit2`` leaves it out).
OPTIONS = (f"--junitxml={REPORT_PATH}", "-o", "junit_family=xunit1")
#: A larger report is not parsed (the short summary is used instead).
MAX_BYTES = 32 * 1024 * 1024
#: Outcome precedence when one test case holds several outcome elements (a failed call and an error in
#: teardown): the worst wins.
_RANK = {"passed": 0, "skipped": 1, "xfailed": 2, "xpassed": 3, "failed": 4, "error": 5}
_XPASS_MESSAGE = "xfail-marked test passes unexpectedly"


class ReportError(ValueError):
    """The report cannot be used: too large, not well-formed, or it declares a document type."""


@dataclass(frozen=True)
class Case:
    """One ``testcase`` element: its names as pytest wrote them, and its outcome."""

    classname: str
    name: str
    file: str | None
    outcome: str


def parse(data: bytes) -> list[Case]:
    """The test cases of a JUnit XML report; raises :class:`ReportError` on anything unusual."""
    if len(data) > MAX_BYTES:
        raise ReportError(f"the report is larger than {MAX_BYTES // 2**20} MiB")
    cases: list[Case] = []
    current: dict[str, str] | None = None
    outcome = "passed"
    depth = 0
    case_depth = -1

    def refuse(*_args: object) -> NoReturn:
        raise ReportError("the report declares a document type or an entity")

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal current, outcome, depth, case_depth
        depth += 1
        if tag == "testcase" and current is None:
            current, outcome, case_depth = attrs, "passed", depth
        elif current is not None and depth == case_depth + 1:
            outcome = _worse(outcome, _child_outcome(tag, attrs))

    def end(tag: str) -> None:
        nonlocal current, depth, case_depth
        if current is not None and depth == case_depth:
            cases.append(
                Case(current.get("classname", ""), current.get("name", ""), current.get("file"), outcome)
            )
            current, case_depth = None, -1
        depth -= 1

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ReportError(f"the report is not well-formed XML: {exc}") from None
    return cases


def _child_outcome(tag: str, attrs: Mapping[str, str]) -> str:
    if tag == "failure":
        return "failed"
    if tag == "error":
        return "error"
    if tag == "skipped":
        if attrs.get("type") == "pytest.xfail":
            return "xfailed"
        if attrs.get("message") == _XPASS_MESSAGE:
            return "xpassed"
        return "skipped"
    return "passed"  # properties, system-out, system-err


def _worse(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def address(node_id: str) -> tuple[str, str]:
    """``(classname, name)`` that pytest writes for ``node_id`` (its ``mangle_test_address``)."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def node_id(case: Case, known: Mapping[tuple[str, str], str]) -> str:
    """The pytest node id of ``case``: from ``known`` ids (the short summary's) when one matches, else
    rebuilt from the file, the class name and the name."""
    exact = known.get((case.classname, case.name))
    if exact is not None:
        return exact
    if case.file and case.file.endswith(".py"):
        module = re.sub(r"\.py$", "", case.file.replace("/", "."))
        if not case.classname and case.name == module:  # a file that could not be collected
            return case.file
        if case.classname == module or case.classname.startswith(module + "."):
            classes = case.classname[len(module) :].split(".")[1:]
            return "::".join([case.file, *classes, case.name])
    if not case.classname:
        return case.name.replace(".", "/") + ".py"
    parts = case.classname.split(".")
    split = len(parts)
    while split > 1 and parts[split - 1][:1].isupper():  # trailing parts named like classes
        split -= 1
    return "::".join(["/".join(parts[:split]) + ".py", *parts[split:], case.name])


def outcomes(cases: Iterable[Case], summary: Mapping[str, str]) -> dict[str, str]:
    """``{node id: outcome}`` from the report, with the summary's ids and its ``XPASS`` lines (pytest
    writes a non-strict xpass as a plain pass). Tests only the summary names (an earlier pytest run of a
    configured command, whose report the last run replaced) keep the summary's outcome."""
    known = {address(n): n for n in summary if "::" in n or n.endswith(".py")}
    results: dict[str, str] = {}
    for case in cases:
        node = node_id(case, known)
        outcome = case.outcome
        if outcome == "passed" and summary.get(node) == "xpassed":
            outcome = "xpassed"
        results[node] = _worse(results[node], outcome) if node in results else outcome
    for node, outcome in summary.items():
        results.setdefault(node, outcome)
    return results
