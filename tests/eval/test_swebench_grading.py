"""Grading with swebench's own parsers on recorded test logs of each runner (pytest, sympy, django)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.requirements import require

require("swebench")

from repomind.eval.swebench import grading  # noqa: E402
from repomind.eval.swebench.errors import EvalInputError  # noqa: E402

LOGS = Path(__file__).parent.parent / "fixtures" / "swebench" / "logs"


def log(name: str) -> str:
    return (LOGS / name).read_text()


def test_pytest_log_is_parsed_and_graded() -> None:
    status = grading.parse_log("pytest-dev/pytest", log("pytest.log"))
    assert status["testing/test_mark.py::test_ini_markers"] == "PASSED"
    assert status["testing/test_mark.py::TestFunctional::test_mark_from_parameters"] == "FAILED"
    passing = ["testing/test_mark.py::test_marked_class_run_twice", "testing/test_mark.py::test_ini_markers"]
    f2p = ["testing/test_mark.py::test_mark_option[xyz-expected_passed0]"]
    resolved = grading.grade(status, f2p, passing)
    assert resolved.resolved
    assert resolved.summary() == "FAIL_TO_PASS 1/1 pass, PASS_TO_PASS 2/2 pass"
    # One PASS_TO_PASS test broken: not resolved, whatever FAIL_TO_PASS does.
    broken = grading.grade(
        status, f2p, [*passing, "testing/test_mark.py::TestFunctional::test_mark_from_parameters"]
    )
    assert not broken.resolved
    assert broken.p2p_failed == ("testing/test_mark.py::TestFunctional::test_mark_from_parameters",)


def test_a_test_missing_from_the_log_does_not_pass() -> None:
    status = grading.parse_log("pytest-dev/pytest", log("pytest.log"))
    graded = grading.grade(status, ["testing/test_mark.py::test_never_ran"], [])
    assert not graded.resolved
    assert graded.f2p_failed == ("testing/test_mark.py::test_never_ran",)
    failing, passing = grading.failing_before(status, ["testing/test_mark.py::test_never_ran"])
    assert failing == ["testing/test_mark.py::test_never_ran"] and passing == []


def test_sympy_bin_test_log() -> None:
    status = grading.parse_log("sympy/sympy", log("sympy.log"))
    assert status["test_latex_basic"] == "PASSED"
    assert status["test_latex_matrix_with_functions"] == "FAILED"
    assert status["test_issue_16772"] == "ERROR"
    assert grading.grade(status, ["test_latex_basic"], ["test_sympify_keywords"]).resolved
    # The file's status printed after a file's last test hides it from the parser (as in the official
    # harness), so such a test counts as not passing.
    assert "test_latex_symbols" not in status
    graded = grading.grade(status, ["test_issue_16772"], ["test_latex_basic"])
    assert not graded.resolved and graded.f2p_failed == ("test_issue_16772",)
    failing, passing = grading.failing_before(
        status, ["test_latex_matrix_with_functions", "test_latex_basic"]
    )
    assert failing == ["test_latex_matrix_with_functions"] and passing == ["test_latex_basic"]


def test_django_runtests_log() -> None:
    status = grading.parse_log("django/django", log("django.log"))
    assert status["test_field_name (model_fields.tests.BasicFieldTests)"] == "PASSED"
    # A docstring line between the name and "ok" is still a pass.
    assert status["A translated display value is coerced to str."] == "PASSED"
    assert status["test_overriding_FIELD_display (model_fields.tests.GetFieldDisplayTests)"] == "FAILED"
    assert status["test_iterator_choices (model_fields.tests.GetChoicesTests)"] == "ERROR"
    assert status["test_postgres_only (model_fields.tests.PostgresTests)"] == "SKIPPED"
    p2p = ["test_choices_form_class (model_fields.tests.BasicFieldTests)"]
    assert grading.grade(status, ["test_field_name (model_fields.tests.BasicFieldTests)"], p2p).resolved
    graded = grading.grade(
        status, ["test_overriding_FIELD_display (model_fields.tests.GetFieldDisplayTests)"], p2p
    )
    assert not graded.resolved


def test_a_repository_without_a_parser_is_a_clear_error() -> None:
    with pytest.raises(EvalInputError, match="no test-log parser for acme/unknown"):
        grading.parse_log("acme/unknown", "")
