"""Grading a test log as the official harness does: ``swebench``'s parser for the repository, then its
FAIL_TO_PASS / PASS_TO_PASS report. Resolved only when every FAIL_TO_PASS test passes and every
PASS_TO_PASS test still passes; a test missing from the log counts as not passing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from repomind.eval.swebench.errors import EvalInputError


@dataclass(frozen=True)
class Grade:
    resolved: bool
    f2p_passed: tuple[str, ...]
    f2p_failed: tuple[str, ...]
    p2p_passed: tuple[str, ...]
    p2p_failed: tuple[str, ...]

    def summary(self) -> str:
        f2p = len(self.f2p_passed) + len(self.f2p_failed)
        p2p = len(self.p2p_passed) + len(self.p2p_failed)
        return (
            f"FAIL_TO_PASS {len(self.f2p_passed)}/{f2p} pass, PASS_TO_PASS {len(self.p2p_passed)}/{p2p} pass"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "f2p_passed": list(self.f2p_passed),
            "f2p_failed": list(self.f2p_failed),
            "p2p_passed": list(self.p2p_passed),
            "p2p_failed": list(self.p2p_failed),
        }


def _test_spec(instance_id: str, repo: str, version: str) -> Any:
    """The small ``TestSpec`` the parsers' signature asks for (the Python parsers read only the log)."""
    from swebench.harness.test_spec.test_spec import TestSpec

    return TestSpec(
        instance_id=instance_id,
        repo=repo,
        version=version,
        repo_script_list=[],
        eval_script_list=[],
        env_script_list=[],
        arch="x86_64",
        FAIL_TO_PASS=[],
        PASS_TO_PASS=[],
        language="py",
        docker_specs={},
        namespace=None,
    )


def parse_log(repo: str, log: str, *, instance_id: str = "", version: str = "") -> dict[str, str]:
    """Test name → status (PASSED, FAILED, SKIPPED, ERROR, XFAIL) by ``swebench``'s parser for ``repo``."""
    from swebench.harness.log_parsers import MAP_REPO_TO_PARSER

    parser = MAP_REPO_TO_PARSER.get(repo)
    if parser is None:
        raise EvalInputError(f"swebench has no test-log parser for {repo}")
    status: dict[str, str] = parser(log, _test_spec(instance_id, repo, version))
    return status


def grade(status: dict[str, str], fail_to_pass: Sequence[str], pass_to_pass: Sequence[str]) -> Grade:
    """The official report over the parsed statuses, and whether it resolves the instance."""
    from swebench.harness.constants import FAIL_TO_PASS, PASS_TO_PASS, ResolvedStatus
    from swebench.harness.grading import get_eval_tests_report, get_resolution_status

    report = get_eval_tests_report(
        status, {FAIL_TO_PASS: list(fail_to_pass), PASS_TO_PASS: list(pass_to_pass)}
    )
    resolved = get_resolution_status(report) == ResolvedStatus.FULL.value
    # Tests absent from the log are in neither list of the report: count them as failing, as it does.
    f2p_ok = tuple(report[FAIL_TO_PASS]["success"])
    p2p_ok = tuple(report[PASS_TO_PASS]["success"])
    return Grade(
        resolved=resolved and len(f2p_ok) == len(fail_to_pass) and len(p2p_ok) == len(pass_to_pass),
        f2p_passed=f2p_ok,
        f2p_failed=tuple(t for t in fail_to_pass if t not in set(f2p_ok)),
        p2p_passed=p2p_ok,
        p2p_failed=tuple(t for t in pass_to_pass if t not in set(p2p_ok)),
    )


def failing_before(status: dict[str, str], fail_to_pass: Sequence[str]) -> tuple[list[str], list[str]]:
    """(FAIL_TO_PASS tests that fail or are missing before the patch, those that already pass)."""
    from swebench.harness.grading import test_passed

    passing = [t for t in fail_to_pass if test_passed(t, status)]
    return [t for t in fail_to_pass if t not in passing], passing
