"""``run_tests`` in the real Docker sandbox: pytest on the agent's current work tree, outcomes read from
its JUnit report, the failing test's output shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.agent.tools import ToolBox
from repomind.pipeline.issue import Mentions
from repomind.pipeline.llm import Budget
from repomind.pipeline.solve.attempt import AttemptContext
from repomind.pipeline.solve.events import RunEvents
from repomind.pipeline.solve.workspace import Workspace
from repomind.pipeline.toolchain.python import PythonToolchain
from repomind.repoconfig import RepoConfig
from repomind.sandbox import DockerSandbox
from repomind.testing import ScriptedModel, make_git_repo
from tests.pipeline import solve_fixtures as fx

pytestmark = pytest.mark.docker


def test_run_tests_runs_pytest_in_the_sandbox_on_the_current_tree(docker_client: Any, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    workspace = Workspace.create(str(repo), None, tmp_path / "work")
    tree = workspace.work_tree("agent")
    sandbox, python = DockerSandbox(docker_client), PythonToolchain()
    env = sandbox.prepare(tree, python.environment("repo", RepoConfig()))
    ctx = AttemptContext(
        ScriptedModel([]), sandbox, env, workspace, RunEvents(), Budget(), Mentions(), None, python
    )
    tools = ToolBox(ctx, tree, shown={"calc/ops.py"})

    before = tools.run_tests(["tests/test_ops.py"])
    assert before.ok and before.outcome == "1 failed, 1 passed", before.text
    assert before.text.index("FAILED tests/test_ops.py::test_add") < before.text.index("Passed (1)")
    assert "assert -1 == 5" in before.text  # the failing test's own output, from the sandbox

    assert tools.edit("calc/ops.py", "    return a - b\n", "    return a + b\n").outcome == "applied"
    after = tools.run_tests()  # the tests the test stage would choose for the change
    assert after.outcome == "2 passed" and "tests related to the change" in after.text
    assert after.data["results"] == {
        "tests/test_ops.py::test_add": "passed",
        "tests/test_ops.py::test_mul": "passed",
    }
