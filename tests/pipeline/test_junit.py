"""Per-test outcomes from pytest's JUnit XML report: real reports written by pytest on a fixture project,
and hostile ones (a DTD, entities, a huge or broken file) that are refused in favour of the summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from repomind.pipeline.toolchain import protocol
from repomind.pipeline.toolchain.python import junit, pytest_output

MIX = """import pytest


def test_pass():
    pass


def test_fail():
    assert 1 == 2


@pytest.fixture
def broken():
    raise RuntimeError("fixture")


def test_error(broken):
    pass


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown")


def test_teardown_error(bad_teardown):
    pass


def test_skip():
    pytest.skip("no network")


@pytest.mark.skip(reason="marked")
def test_skip_marked():
    pass


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert 0


def test_xfail_call():
    pytest.xfail("imperative")


@pytest.mark.xfail(reason="strict", strict=True)
def test_xpass_strict():
    pass


@pytest.mark.xfail(reason="lenient")
def test_xpass():
    pass


@pytest.mark.parametrize("x", ["c/d", 2])
def test_param(x):
    pass


class TestThing:
    def test_method(self):
        pass

    class TestInner:
        def test_deep(self):
            pytest.skip("inner")
"""

PROJECT = {
    "pytest.ini": "[pytest]\n",
    "tests/__init__.py": "",
    "tests/base.py": "class Base:\n    def test_from_base(self):\n        pass\n",
    "tests/test_inherit.py": "from tests.base import Base\n\n\nclass TestChild(Base):\n    pass\n",
    "tests/test_broken.py": "import nope  # noqa\n",
    "tests/test_mix.py": MIX,
}

EXPECTED = {
    "tests/test_mix.py::test_pass": "passed",
    "tests/test_mix.py::test_fail": "failed",
    "tests/test_mix.py::test_error": "error",
    "tests/test_mix.py::test_teardown_error": "error",
    "tests/test_mix.py::test_skip": "skipped",
    "tests/test_mix.py::test_skip_marked": "skipped",
    "tests/test_mix.py::test_xfail": "xfailed",
    "tests/test_mix.py::test_xfail_call": "xfailed",
    "tests/test_mix.py::test_xpass_strict": "failed",
    "tests/test_mix.py::test_xpass": "xpassed",
    "tests/test_mix.py::test_param[c/d]": "passed",
    "tests/test_mix.py::test_param[2]": "passed",
    "tests/test_mix.py::TestThing::test_method": "passed",
    "tests/test_mix.py::TestThing::TestInner::test_deep": "skipped",
    "tests/test_inherit.py::TestChild::test_from_base": "passed",
    "tests/test_broken.py": "error",
}


def pytest_report(tmp_path: Path, family: str = "xunit1") -> tuple[str, bytes]:
    """Run pytest as the test stage does on the fixture project; return its output and its report."""
    root = tmp_path / "project"
    for rel, text in PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    report = tmp_path / "report.xml"
    argv = [
        a.replace(junit.REPORT_PATH, str(report)).replace("junit_family=xunit1", f"junit_family={family}")
        for a in pytest_output.pytest_argv(["tests"])
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, *argv[1:]], cwd=root, capture_output=True, text=True, env=env, check=False
    )
    assert report.is_file(), proc.stdout + proc.stderr
    return proc.stdout + proc.stderr, report.read_bytes()


def test_every_outcome_of_a_real_report_is_read(tmp_path: Path) -> None:
    output, report = pytest_report(tmp_path)
    assert b'type="pytest.xfail"' in report and b'type="pytest.skip"' in report
    results, source, note = pytest_output.read_results(output, report)
    assert (results, source, note) == (EXPECTED, "junit", "")
    # The short summary alone names no skipped test, and calls xfail and xpass by other names.
    summary = pytest_output.parse(output)
    assert "tests/test_mix.py::test_skip" not in summary


def test_xunit2_reports_without_file_attributes_are_read_too(tmp_path: Path) -> None:
    output, report = pytest_report(tmp_path, "xunit2")
    assert b' file="' not in report
    results, source, _note = pytest_output.read_results(output, report)
    assert source == "junit"
    assert results == EXPECTED
    # ... and without the summary's node ids: rebuilt from the class and test names
    bare = pytest_output.read_results("", report)[0]
    assert bare["tests/test_mix.py::TestThing::TestInner::test_deep"] == "skipped"
    assert bare["tests/test_mix.py::test_param[c/d]"] == "passed"
    assert bare["tests/test_broken.py"] == "error"


def test_only_passed_is_good() -> None:
    assert {"passed"} == protocol.GOOD
    assert {"skipped", "xfailed", "xpassed"} == protocol.NOT_RUN


def test_no_report_falls_back_to_the_summary_and_says_so(tmp_path: Path) -> None:
    output, _report = pytest_report(tmp_path)
    results, source, note = pytest_output.read_results(output, None)
    assert source == "summary" and "short summary" in note
    assert results["tests/test_mix.py::test_pass"] == "passed"
    assert "tests/test_mix.py::test_skip" not in results  # what the report is for


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<testsuites><testsuite><testcase classname="t" name="&lol3;"/></testsuite></testsuites>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuites><testsuite><testcase classname="t" name="x">&secret;</testcase></testsuite></testsuites>"""
TRICKY_DOCTYPE = b"""<!DOCTYPE testsuites SYSTEM "http://127.0.0.1:9/evil.dtd">
<testsuites><testsuite><testcase classname="t" name="x"/></testsuite></testsuites>"""


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (LAUGHS, "document type"),
        (EXTERNAL, "document type"),
        (TRICKY_DOCTYPE, "document type"),
        (b"<testsuites><testcase classname='t' name='x'>", "not well-formed"),
        (b"\xff\xfe<\x00", "not well-formed"),
        (b"<testsuites>" + b" " * (junit.MAX_BYTES + 1) + b"</testsuites>", "larger than"),
    ],
)
def test_a_hostile_or_broken_report_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(junit.ReportError, match=why):
        junit.parse(data)
    results, source, note = pytest_output.read_results("", data)
    assert (results, source) == ({}, "summary") and why in note


def test_nested_and_unknown_elements_do_not_confuse_the_reader() -> None:
    data = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_one" file="tests/test_a.py">
  <properties><property name="skipped" value="1"/></properties><system-out>&lt;skipped/&gt;</system-out>
</testcase>
<testcase classname="tests.test_a" name="test_two" file="tests/test_a.py"><failure message="x"/>
  <error message="teardown"/></testcase>
<unknown><testcase classname="tests.test_a" name="test_three"><skipped type="pytest.xfail"/>
</testcase></unknown>
</testsuite></testsuites>"""
    assert pytest_output.read_results("", data)[0] == {
        "tests/test_a.py::test_one": "passed",
        "tests/test_a.py::test_two": "error",
        "tests/test_a.py::test_three": "xfailed",
    }
