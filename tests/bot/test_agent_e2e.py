"""The agent strategy through the real bot: GitHub's ``issues.labeled`` payload into the real app, the
GitHub stand-in with a fixture repository whose bug only a search finds, litellm against the scripted
OpenAI-compatible stand-in answering with tool calls, and the real Docker sandbox running the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from repomind.store import JobState
from repomind.testing import StandInGitHub, StandInLLMServer, make_git_repo, tool_call
from tests.bot.helpers import OPERATOR, REPO, Server, adjust, fixture, serve, settings_for, wait_for
from tests.bot.test_solve_pipeline import NARROW
from tests.pipeline import solve_fixtures as fx

TITLE = "Summing 2 and 3 gives -1 instead of 5"
BODY = "Found while totalling a column; the existing test of the sum fails too."
BRANCH = "repomind/issue-1"
DECOY = {
    "calc/report.py": '"""Column totals for reports."""\n\n\ndef column(values):\n    return list(values)\n'
}

SEARCH = tool_call(
    "search", "Find where two numbers are summed.", regex=r"return a \- b", path_glob="**/*.py"
)
VIEW = tool_call("view", "Read the function.", path="calc/ops.py", line=1, after=20)
EDIT = tool_call(
    "edit", "add() subtracts.", path="calc/ops.py", search="    return a - b\n", replace="    return a + b\n"
)
TEST = tool_call("run_tests", "The issue's test.", targets=["tests/test_ops.py::test_add"])
SUBMIT = tool_call("submit", summary="add() subtracted its operands; it adds them now.")
YES = '{"right_track": true, "feedback": null}'


def start(tmp_path: Path, llm: StandInLLMServer, config: str) -> tuple[StandInGitHub, Server]:
    files = {**fx.FILES, **DECOY, ".github/repomind.yml": config}
    github = StandInGitHub(tmp_path / "github").start()
    github.add_repo(REPO, make_git_repo(tmp_path / "src-calc", files))
    github.state.open_issue(REPO, TITLE, BODY, user="alice")
    github.state.set_permission(REPO, "alice", "maintain")
    settings = settings_for(
        github,
        tmp_path / "data",
        model="openai/stand-in",
        llm_api_base=llm.url,
        embedding_model="none",
        job_lease_s=20.0,
    )
    NARROW.save(settings.calibration_file)
    server = serve(settings, pipeline=None)
    server.github_state = github.state
    return github, server


@pytest.fixture
def stop() -> Iterator[list[Any]]:
    running: list[Any] = []
    yield running
    for one in reversed(running):
        one.stop()


def label_and_wait(server: Server) -> JobState | None:
    payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
    payload["issue"].update(title=TITLE, body=BODY)
    assert server.deliver("issues", payload).status_code == 202

    def finished() -> bool:
        jobs = server.ledger.all_jobs()
        return bool(jobs) and jobs[0].state in (JobState.SUCCEEDED, JobState.FAILED)

    wait_for(finished, timeout=400, what="job")
    return server.ledger.all_jobs()[0].state


@pytest.mark.docker
@pytest.mark.parametrize(
    ("review", "protocol"),
    [(False, "native"), (True, "native"), (False, "text")],
    ids=["reviewer-off", "reviewer-on", "text-protocol"],
)
def test_the_agent_searches_edits_tests_and_opens_a_verified_draft_pr(
    docker_client: Any, tmp_path: Path, stop: list[Any], review: bool, protocol: str
) -> None:
    steps: list[Any] = [SEARCH, VIEW, EDIT, TEST, SUBMIT]
    if protocol == "text":  # the same actions as fenced `action` blocks, from a server without tool calls
        steps = [s.as_text() for s in steps]
    replies: list[Any] = [*steps[:3], YES, *steps[3:], YES] if review else steps
    llm = StandInLLMServer(replies).__enter__()
    stop.append(llm)
    config = f"strategy: agent\ntool_protocol: {protocol}\nreview_steps: {'edits' if review else 'false'}\n"
    github, server = start(tmp_path, llm, config)
    stop.extend([github, server])
    state = label_and_wait(server)
    [status] = [c for c in github.state.comments_on(REPO, 1) if "repomind:job:1" in c.body]
    assert state is JobState.SUCCEEDED, status.body
    assert llm.remaining == 0
    offered = [[t["function"]["name"] for t in r.get("tools", [])] for r in llm.requests]
    after_search = llm.requests[1]["messages"]
    if protocol == "native":
        # every agent request offered the five tools natively; the reviewer's offered none
        agent_calls = [o for o in offered if o]
        assert len(agent_calls) == 5 and all(
            o == ["search", "view", "edit", "run_tests", "submit"] for o in agent_calls
        )
        assert len(offered) - len(agent_calls) == (2 if review else 0)
        # the search's observation (the bug's file and line) reached the model as its tool answer
        assert after_search[-1]["role"] == "tool" and "calc/ops.py:5:" in after_search[-1]["content"]
    else:  # no tools offered: the format is in the system rules, observations come back as user turns
        assert offered == [[]] * 5 and "```action" in llm.requests[0]["messages"][0]["content"]
        assert after_search[-1]["role"] == "user" and "calc/ops.py:5:" in after_search[-1]["content"]
    # the draft PR carries the evidence, and the branch has the fix
    [pr] = github.state.pulls(REPO)
    assert pr.pull is not None and pr.pull.draft and pr.pull.head == BRANCH
    assert "tests/test_ops.py::test_add" in pr.body
    # the status comment showed the steps as they ran
    # (the live edits are throttled, so which steps a running state showed depends on timing)
    assert "#### Agent: step 5 of 40" in status.body and "5 · `submit` · verified" in status.body
    # the PR says how the agent worked, in its own words when it submitted
    assert "### How the agent worked" in pr.body and "> add() subtracted its operands" in pr.body
    assert "**Files viewed**: `calc/ops.py`" in pr.body
    assert "Changes `calc/ops.py` (verification 1, after 5 step(s) of the agent)" in pr.body
    [run] = server.settings.runs_dir.iterdir()
    report = (run / "report.json").read_text()
    assert '"strategy": "agent"' in report and '"steps": 5' in report
    page = server_get(server, "/runs/1")
    assert "run_tests" in page


def server_get(server: Server, path: str) -> str:
    import httpx

    return httpx.get(f"{server.url}{path}", headers=OPERATOR).text
