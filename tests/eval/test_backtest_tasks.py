"""Task instances from a repository's own history: a fixture repository with fixes and their tests.

The history (oldest first): the initial commit; a fix of ``add()`` with a test that fails before it
(kept); a change of ``mul()`` with a test that passes before and after (dropped: no FAIL_TO_PASS); a
docs-only commit and a source-only commit (not candidates); a bot's commit (skipped). The tests run in
the real Docker sandbox (marked ``docker``) and, for the cache and the bookkeeping, in the fake sandbox
whose script reads the work tree it is given as pytest would judge it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from repomind.eval.backtest import environment
from repomind.eval.backtest.environment import REPOSITORY, SPECIFICATION, RepositorySpec
from repomind.eval.backtest.tasks import (
    KEPT,
    NO_F2P,
    TIMED_OUT,
    Candidate,
    TaskOutcome,
    build_task,
    build_tasks,
    github_candidates,
    history_candidates,
)
from repomind.eval.swebench import batch, harness, specs
from repomind.eval.swebench.environments import Environments
from repomind.eval.swebench.jsonl import Prediction
from repomind.pipeline.instance import Instance
from repomind.testing import FakeSandbox, git, make_git_repo
from repomind.testing.github.state import GitHubState

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIXED = BUGGY.replace("a - b", "a + b")
MUL_DOC = FIXED.replace("def mul(a, b):\n", 'def mul(a, b):\n    """The product."""\n')
TESTS = "from calc.ops import add, mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
ADD_TEST = TESTS + "\n\ndef test_add():\n    assert add(2, 3) == 5\n"
ZERO_TEST = ADD_TEST + "\n\ndef test_mul_zero():\n    assert mul(0, 3) == 0\n"
FILES = {"calc/__init__.py": "", "calc/ops.py": BUGGY, "tests/__init__.py": "", "tests/test_ops.py": TESTS}
F2P, MUL, ZERO = (
    "tests/test_ops.py::test_add",
    "tests/test_ops.py::test_mul",
    "tests/test_ops.py::test_mul_zero",
)


def _commit(repo: Path, changes: dict[str, str], message: str, *extra: str) -> str:
    for path, text in changes.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, *extra)
    return git(repo, "rev-parse", "HEAD").strip()


def fixture_history(root: Path) -> dict[str, str]:
    repo = make_git_repo(root, FILES)
    return {
        "fix": _commit(
            repo,
            {"calc/ops.py": FIXED, "tests/test_ops.py": ADD_TEST},
            "Fix add() returning the difference\n\nadd(2, 3) gave -1.",
        ),
        "p2p": _commit(
            repo, {"calc/ops.py": MUL_DOC, "tests/test_ops.py": ZERO_TEST}, "Document mul and test zero"
        ),
        "docs": _commit(repo, {"README.md": "# calc\n"}, "Describe the calculator in the readme"),
        "source": _commit(
            repo, {"calc/ops.py": MUL_DOC + "\n\ndef sub(a, b):\n    return a - b\n"}, "Add sub"
        ),
        "bot": _commit(
            repo,
            {"calc/ops.py": MUL_DOC + "\n# bumped\n", "tests/test_ops.py": ZERO_TEST + "\n# bumped\n"},
            "Update the pinned linters in the calculator",
            "--author=dependabot[bot] <bot@example.com>",
        ),
    }


def pytest_like(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
    """What pytest would say of the fixture's tests in ``tree`` (its ``-rA`` summary lines)."""
    ops = (tree / "calc" / "ops.py").read_text()
    tests = (tree / "tests" / "test_ops.py").read_text()
    lines = [f"PASSED {MUL}"]
    if "def test_add" in tests:
        lines.append(f"PASSED {F2P}" if "a + b" in ops else f"FAILED {F2P} - assert -1 == 5")
    if "def test_mul_zero" in tests:
        lines.append(f"PASSED {ZERO}")
    failed = any(line.startswith("FAILED") for line in lines)
    return int(failed), "=== short test summary info ===\n" + "\n".join(lines) + "\n", ""


def test_history_candidates_are_fixes_with_their_tests(tmp_path: Path) -> None:
    shas = fixture_history(tmp_path / "calc")
    found = list(history_candidates(tmp_path / "calc"))
    assert [c.commit for c in found] == [shas["p2p"], shas["fix"]]  # newest first; docs, source, bot left out
    fix = found[1]
    assert fix.parent == git(tmp_path / "calc", "rev-parse", f"{shas['fix']}^").strip()
    assert fix.description == "Fix add() returning the difference\n\nadd(2, 3) gave -1.\n"
    assert fix.source == "history" and fix.number is None
    assert "calc/ops.py" in fix.source_patch and "tests/" not in fix.source_patch
    assert "b/tests/test_ops.py" in fix.test_patch and "calc/ops.py" not in fix.test_patch
    assert [c.commit for c in history_candidates(tmp_path / "calc", limit=1)] == [shas["p2p"]]


def test_build_tasks_keeps_fixes_whose_tests_go_from_failing_to_passing(tmp_path: Path) -> None:
    shas = fixture_history(tmp_path / "calc")
    sandbox = FakeSandbox(script=pytest_like)
    outcomes: list[TaskOutcome] = []
    cache = tmp_path / "cache"
    kept = build_tasks(
        history_candidates(tmp_path / "calc"),
        tmp_path / "calc",
        repo="acme/calc",
        sandbox=sandbox,
        limit=None,
        cache_dir=cache,
        outcomes=outcomes,
    )
    assert [(o.candidate.commit, o.reason) for o in outcomes] == [(shas["p2p"], NO_F2P), (shas["fix"], KEPT)]
    [task] = kept
    assert task.instance_id == f"acme__calc-{shas['fix'][:12]}" and task.repo == "acme/calc"
    assert task.base_commit == outcomes[1].candidate.parent and task.fail_to_pass == (F2P,)
    assert task.pass_to_pass == (MUL,) and task.gold_files == ["calc/ops.py"]
    # before and after for each candidate, and after once more for the kept one (ids must hold)
    assert len(sandbox.commands) == 5
    assert all(argv[-1] == "tests/test_ops.py" for argv in sandbox.commands)
    assert sandbox.prepared[0].repo_name == "calc"  # the bot's environment: the toolchain's spec

    # The cache: a second build runs no test and gives the same tasks.
    again = FakeSandbox(script=pytest_like)
    assert build_tasks(
        history_candidates(tmp_path / "calc"), tmp_path / "calc", repo="acme/calc", sandbox=again,
        limit=None, cache_dir=cache,
    ) == kept  # fmt: skip
    assert again.commands == [] and again.prepared == []
    # An outcome cached by another version of the construction is built again.
    stale = cache / f"history-{shas['fix']}.json"
    stale.write_text(stale.read_text().replace('"version": 2', '"version": 1'))
    rebuilt = FakeSandbox(script=pytest_like)
    build_tasks(
        history_candidates(tmp_path / "calc"), tmp_path / "calc", repo="acme/calc", sandbox=rebuilt,
        limit=None, cache_dir=cache,
    )  # fmt: skip
    assert len(rebuilt.commands) == 3
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        f"history-{shas[k]}.json" for k in ("fix", "p2p")
    )


def test_limit_counts_kept_tasks(tmp_path: Path) -> None:
    fixture_history(tmp_path / "calc")
    outcomes: list[TaskOutcome] = []
    kept = build_tasks(
        history_candidates(tmp_path / "calc"), tmp_path / "calc", repo="acme/calc",
        sandbox=FakeSandbox(script=pytest_like), limit=1, cache_dir=tmp_path / "cache", outcomes=outcomes,
    )  # fmt: skip
    assert len(kept) == 1 and len(outcomes) == 2  # the dropped candidate does not count


def test_an_environment_that_cannot_be_set_up_drops_the_candidate(tmp_path: Path) -> None:
    fixture_history(tmp_path / "calc")
    (tmp_path / "calc" / ".github").mkdir()
    _commit(tmp_path / "calc", {".github/repomind.yml": "language: cobol\n"}, "Configure the bot")
    # The candidate's base is before the configuration: its own configuration is used (none), and works.
    [_, fix] = list(history_candidates(tmp_path / "calc"))
    assert (
        build_task(
            fix,
            tmp_path / "calc",
            repo="acme/calc",
            sandbox=FakeSandbox(script=pytest_like),
            work=tmp_path / "w",
        ).reason
        == KEPT
    )
    broken = Candidate(
        "c" * 40, git(tmp_path / "calc", "rev-parse", "HEAD").strip(), 0, "x", fix.source_patch,
        fix.test_patch, "history",
    )  # fmt: skip
    outcome = build_task(
        broken,
        tmp_path / "calc",
        repo="acme/calc",
        sandbox=FakeSandbox(script=pytest_like),
        work=tmp_path / "w",
    )
    assert outcome.instance is None and outcome.reason.startswith("environment could not be set up: language")


def _merge(
    state: GitHubState, work: Path, branch: str, changes: dict[str, str], title: str, body: str
) -> int:
    git(work, "fetch", "-q", "origin", "main")
    git(work, "checkout", "-q", "-B", branch, "origin/main")
    _commit(work, changes, title)
    git(work, "push", "-q", "origin", branch)
    number = state.create_pull(
        "acme/calc", title=title, head=branch, base="main", body=body, draft=False
    ).number
    state.merge_pull("acme/calc", number)
    return number


def test_github_candidates_are_merged_pulls_that_close_issues(tmp_path: Path) -> None:
    state = GitHubState(tmp_path / "github")
    state.add_repo("acme/calc", make_git_repo(tmp_path / "src", FILES))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(state.repos["acme/calc"].git_dir), str(work))
    issue = state.open_issue("acme/calc", "add() subtracts", "add(2, 3) is -1.")
    fix = _merge(
        state, work, "fix", {"calc/ops.py": FIXED, "tests/test_ops.py": ADD_TEST, "CHANGES.md": "- fix\n"},
        "Fix add", f"Fixes #{issue}.",
    )  # fmt: skip
    other = state.open_issue("acme/calc", "mul needs a docstring", "")
    _merge(state, work, "doc", {"calc/ops.py": MUL_DOC}, "Document mul", f"Closes #{other}")  # no test change
    _merge(state, work, "zero", {"tests/test_ops.py": ZERO_TEST, "calc/ops.py": MUL_DOC + "#\n"}, "Zero", "")

    clone = state.repos["acme/calc"].git_dir
    [found] = list(github_candidates(state, "acme/calc", clone))
    pull = next(p for p in state.pulls("acme/calc") if p.number == fix)
    assert found.source == "github" and found.number == fix and found.commit == ""
    assert pull.pull is not None and found.parent == pull.pull.base_before
    assert found.description == "add() subtracts\nadd(2, 3) is -1.\n"
    assert "calc/ops.py" in found.source_patch and "CHANGES.md" not in found.source_patch
    assert "tests/test_ops.py" in found.test_patch

    outcome = build_task(
        found, clone, repo="acme/calc", sandbox=FakeSandbox(script=pytest_like), work=tmp_path / "w"
    )
    assert outcome.instance is not None and outcome.instance.instance_id == f"acme__calc-{fix}"
    assert outcome.instance.fail_to_pass == (F2P,)


def test_eval_builds_an_instance_without_a_specification_the_repository_way(tmp_path: Path) -> None:
    shas = fixture_history(tmp_path / "repos" / "acme__calc")
    clone = tmp_path / "repos" / "acme__calc"
    [task] = build_tasks(
        history_candidates(clone), clone, repo="acme/calc", sandbox=FakeSandbox(script=pytest_like),
        limit=1, cache_dir=tmp_path / "cache",
    )  # fmt: skip
    assert task.instance_id.endswith(shas["fix"][:12])

    raw = {"python": "3.11", "install": "pip install -e .", "test_cmd": "pytest -rA"}
    assert isinstance(environment.choose("acme/calc", "", None, available_pythons=("3.11",)), RepositorySpec)
    chosen = environment.choose("acme/calc", "1.0", raw, available_pythons=("3.11",))
    assert isinstance(chosen, specs.EvalSpec) and environment.environment_kind(chosen) == SPECIFICATION

    sandbox = FakeSandbox(script=pytest_like)
    gold = {task.instance_id: Prediction(task.instance_id, "gold", task.patch)}

    def predict(instance: Instance, _repo: Path, _dir: Path) -> tuple[Prediction, dict[str, Any]]:
        return gold[instance.instance_id], {}

    config = batch.RunConfig(
        repos=tmp_path / "repos", out=tmp_path / "eval", available_pythons=("3.11",),
        spec_lookup=lambda _repo, _version: None,
    )  # fmt: skip
    [record] = batch.run([task], predict, sandbox, config).records
    assert record["environment"] == REPOSITORY and record["verdict"] == harness.RESOLVED, record
    assert sandbox.prepared[0].repo_name == "calc" and sandbox.prepared[0].recipe == "pip"

    empty = harness.evaluate(
        task, Prediction(task.instance_id, "empty", ""), clone, RepositorySpec("acme/calc", "", "none"),
        sandbox=sandbox, environments=Environments(sandbox), out_dir=tmp_path / "e", scratch=tmp_path / "s",
    )  # fmt: skip
    assert empty["verdict"] == harness.UNRESOLVED and empty["environment"] == REPOSITORY
    wrong = Prediction(task.instance_id, "wrong", task.patch.replace("a + b", "b + a - a + a"))
    graded = harness.evaluate(
        task, wrong, clone, RepositorySpec("acme/calc", "", "none"), sandbox=sandbox,
        environments=Environments(sandbox), out_dir=tmp_path / "w", scratch=tmp_path / "s",
    )  # fmt: skip
    assert graded["verdict"] == harness.UNRESOLVED  # the fake's test_add passes only on "a + b"


@pytest.mark.docker
def test_build_task_in_the_docker_sandbox(docker_client: Any, tmp_path: Path) -> None:
    from repomind.sandbox import DockerSandbox

    shas = fixture_history(tmp_path / "repos" / "acme__calc")
    clone = tmp_path / "repos" / "acme__calc"
    sandbox = DockerSandbox(docker_client)
    outcomes: list[TaskOutcome] = []
    [task] = build_tasks(
        history_candidates(clone), clone, repo="acme/calc", sandbox=sandbox, limit=None,
        cache_dir=tmp_path / "cache", outcomes=outcomes,
    )  # fmt: skip
    assert [o.reason for o in outcomes] == [NO_F2P, KEPT]
    assert task.instance_id == f"acme__calc-{shas['fix'][:12]}"
    assert task.fail_to_pass == (F2P,) and task.pass_to_pass == (MUL,)

    # eval swebench on it: no specification, so the environment the bot's way; the gold patch resolves it.
    gold = Prediction(task.instance_id, "gold", task.patch)
    record = harness.evaluate(
        task, gold, clone, RepositorySpec("acme/calc", "", "none"),
        sandbox=sandbox, environments=Environments(sandbox), out_dir=tmp_path / "e", scratch=tmp_path / "s",
    )  # fmt: skip
    assert record["environment"] == REPOSITORY and record["verdict"] == harness.RESOLVED, record


def test_a_kept_task_counts_only_tests_that_pass_under_the_same_id_twice(tmp_path: Path) -> None:
    """marshmallow: the test file cannot load before the fix, so every test of it is missing before;
    two are parametrised with the clock, their ids differ from one run to the next. The task keeps
    the tests that pass under the same id when the tests run after the change once more."""
    shas = fixture_history(tmp_path / "calc")
    runs = iter(range(100))

    def clocked(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        n = next(runs)
        if "a + b" not in (tree / "calc" / "ops.py").read_text():
            return 2, "ERROR tests/test_ops.py - ImportError\n", ""  # before: nothing of it loads
        lines = [f"PASSED {F2P}", f"PASSED tests/test_ops.py::test_now[07:00:{n:02d}]"]
        return 0, "=== short test summary info ===\n" + "\n".join(lines) + "\n", ""

    fix = next(c for c in history_candidates(tmp_path / "calc") if c.commit == shas["fix"])
    outcome = build_task(
        fix, tmp_path / "calc", repo="acme/calc", sandbox=FakeSandbox(script=clocked), work=tmp_path / "w"
    )
    assert outcome.reason == KEPT and outcome.instance is not None
    assert outcome.instance.fail_to_pass == (F2P,)


def test_a_test_whose_id_changes_between_runs_is_not_evidence() -> None:
    from repomind.eval.backtest.tasks import fail_to_pass

    before = {
        "t/test_a.py::test_x": "passed",
        "t/test_a.py::test_now[04:14:50]": "passed",
        "t/test_b.py::f": "failed",
    }
    after = {
        "t/test_a.py::test_x": "passed",
        "t/test_a.py::test_now[04:15:02]": "passed",  # the clock in its id: missing before, its file loaded
        "t/test_b.py::f": "passed",
        "t/test_c.py::new": "passed",  # its file did not load before the fix (an import of the new name)
    }
    assert fail_to_pass(before, after) == ["t/test_b.py::f", "t/test_c.py::new"]


def test_tests_that_time_out_before_the_change_drop_the_candidate_at_once(tmp_path: Path) -> None:
    """pydicom: a test change touching tests that download hangs until the sandbox's limit; the candidate
    is dropped after that first run, not run again after the change."""
    shas = fixture_history(tmp_path / "calc")
    sandbox = FakeSandbox(script=lambda _argv, _tree: (124, "", "timed out"))
    fix = next(c for c in history_candidates(tmp_path / "calc") if c.commit == shas["fix"])
    outcome = build_task(fix, tmp_path / "calc", repo="acme/calc", sandbox=sandbox, work=tmp_path / "w")
    assert outcome.instance is None and outcome.reason == TIMED_OUT
    assert len(sandbox.commands) == 1
