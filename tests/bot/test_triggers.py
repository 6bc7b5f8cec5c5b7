"""Who may trigger what, and exactly-once jobs: through the real app, worker and GitHub stand-in."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from repomind.pipeline.solve.outcome import OutcomeStatus
from repomind.store import JobState
from repomind.testing import FakePipeline, StandInGitHub, git, make_git_repo
from repomind.testing.github.state import CommentState
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO, Server, adjust, fixture, serve, settings_for, wait_for

Serve = Callable[..., Server]


@pytest.fixture
def bot(github: StandInGitHub, tmp_path: Path) -> Iterator[Serve]:
    servers: list[Server] = []

    def start(pipeline: FakePipeline | None = None, **settings: object) -> Server:
        server = serve(
            settings_for(github, tmp_path / "data", **settings),
            pipeline=pipeline or FakePipeline(edits={"calc.py": FIXED}),
        )
        server.github_state = github.state
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def comment(
    server: Server, body: str, *, user: str = "alice", issue: int = 1, user_type: str = "User"
) -> str:
    """A person (or bot) comments on GitHub, and GitHub delivers issue_comment.created."""
    state = server.github_state
    cid = state.comment_as(REPO, issue, body, user=user, user_type=user_type)
    payload = adjust(
        fixture("issue_comment.created.with-installation"), issue=issue, sender=user, comment=body
    )
    payload["comment"]["id"] = cid
    payload["issue"].pop("pull_request", None)
    payload["comment"]["user"]["type"] = payload["sender"]["type"] = user_type
    resp = server.deliver("issue_comment", payload)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["delivery"])


def label(
    server: Server, *, user: str = "alice", name: str = "repomind", delivery: str | None = None
) -> None:
    payload = adjust(fixture("issues.labeled"), issue=1, sender=user, label=name)
    assert server.deliver("issues", payload, delivery=delivery).status_code in (200, 202)


def bot_comments(github: StandInGitHub, number: int, *, repo: str = REPO) -> list[CommentState]:
    return [c for c in github.state.comments_on(repo, number) if c.user == "repomind[bot]"]


def dispatched(server: Server, delivery: str) -> bool:
    d = server.ledger.delivery(delivery)
    return d is not None and d.dispatched_at is not None


def test_a_non_collaborators_command_gets_a_polite_refusal(bot: Serve, github: StandInGitHub) -> None:
    server = bot()
    delivery = comment(server, "/repomind fix", user="mallory")
    wait_for(lambda: dispatched(server, delivery), what="dispatch")
    [reply] = bot_comments(github, 1, repo=REPO)
    assert "Sorry @mallory" in reply.body and "write, maintain or admin" in reply.body
    assert "/repomind help" in reply.body  # every bot comment ends with the commands
    assert server.ledger.all_jobs() == [] and github.state.reactions == []
    assert ("GET", f"/repos/{REPO}/collaborators/mallory/permission") in github.state.requests


def test_comments_from_bots_are_ignored(bot: Serve, github: StandInGitHub) -> None:
    server = bot()
    first = comment(server, "/repomind fix", user="dependabot[bot]", user_type="Bot")
    second = comment(server, "/repomind fix", user="repomind[bot]", user_type="Bot")
    wait_for(lambda: dispatched(server, first) and dispatched(server, second), what="dispatch")
    # only the two comments the test made: the bot posted nothing and reacted to nothing
    assert [c.body for c in github.state.comments_on(REPO, 1)] == ["/repomind fix", "/repomind fix"]
    assert github.state.reactions == [] and server.ledger.all_jobs() == []
    assert not any("permission" in path for _m, path in github.state.requests)


def test_other_labels_and_plain_comments_do_nothing(bot: Serve, github: StandInGitHub) -> None:
    server = bot()
    label(server, name="bug", delivery="l-1")
    delivery = comment(server, "Thanks, I can reproduce this. `/repomind fix` later maybe?")
    wait_for(lambda: dispatched(server, "l-1") and dispatched(server, delivery), what="dispatch")
    assert server.ledger.all_jobs() == [] and bot_comments(github, 1, repo=REPO) == []


def test_redelivery_double_label_and_identical_commands_make_one_job(
    bot: Serve, github: StandInGitHub
) -> None:
    gate = threading.Event()
    server = bot(FakePipeline(edits={"calc.py": FIXED}, gate=gate.is_set))
    label(server, delivery="same")
    label(server, delivery="same")  # GitHub's redelivery: same id
    label(server)  # label removed and added again
    d1 = comment(server, "/repomind fix")
    d2 = comment(server, "/repomind fix")
    wait_for(lambda: dispatched(server, d1) and dispatched(server, d2), what="dispatch")
    gate.set()
    wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED, what="the job")
    assert len(server.ledger.all_jobs()) == 1
    status = [c for c in bot_comments(github, 1, repo=REPO) if "repomind:job:" in c.body]
    assert len(status) == 1 and len(github.state.pulls(REPO)) == 1


def test_a_trigger_while_a_job_runs_is_queued_behind_it(bot: Serve, github: StandInGitHub) -> None:
    gate = threading.Event()
    pipeline = FakePipeline(edits={"calc.py": FIXED}, gate=gate.is_set)
    server = bot(pipeline)
    label(server)
    wait_for(lambda: pipeline.calls, what="the first job to run")
    delivery = comment(server, "/repomind retry look at calc.add")
    wait_for(lambda: dispatched(server, delivery), what="dispatch")
    first, second = server.ledger.all_jobs()
    assert first.state is JobState.RUNNING and second.state is JobState.QUEUED
    queued = [c for c in bot_comments(github, 1, repo=REPO) if "repomind:job:2" in c.body]
    assert "Queued behind job 1" in queued[0].body
    gate.set()
    wait_for(lambda: all(j.state is JobState.SUCCEEDED for j in server.ledger.all_jobs()), what="both jobs")
    assert [c["hints"].hint for c in pipeline.calls] == [None, "look at calc.add"]  # type: ignore[attr-defined]
    assert len(github.state.pulls(REPO)) == 1  # the retry updated the same PR


def _invalid_config_status(bot: Serve, github: StandInGitHub, tmp_path: Path, name: str, config: str) -> str:
    """Label an issue of ``acme/NAME`` whose ``.github/repomind.yml`` is ``config``: the job fails before
    the pipeline runs and pushes nothing; the body of its status comment."""
    repo = f"acme/{name}"
    github.add_repo(repo, make_git_repo(tmp_path / name, {**CALC, ".github/repomind.yml": config}))
    github.state.open_issue(repo, "x", "y")
    github.state.set_permission(repo, "alice", "write")
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server = bot(pipeline)
    payload = adjust(fixture("issues.labeled"), repo=repo, issue=1, sender="alice", label="repomind")
    assert server.deliver("issues", payload).status_code == 202
    wait_for(lambda: server.ledger.all_jobs() and server.ledger.all_jobs()[0].state is JobState.FAILED)
    [status] = bot_comments(github, 1, repo=repo)
    assert "configuration is invalid" in status.body
    assert pipeline.calls == [] and github.state.pulls(repo) == []
    return status.body


def test_bad_config_stops_the_job_and_says_what_is_wrong(
    bot: Serve, github: StandInGitHub, tmp_path: Path
) -> None:
    body = _invalid_config_status(bot, github, tmp_path, "bad", "max_attempts: 0\nmodle: gpt\n")
    assert "max_attempts" in body and "modle: unknown key" in body


def test_an_unknown_strategy_in_the_config_stops_the_job_naming_the_known_ones(
    bot: Serve, github: StandInGitHub, tmp_path: Path
) -> None:
    body = _invalid_config_status(bot, github, tmp_path, "strat", "strategy: telepathy\n")
    assert "telepathy" in body and "one-shot" in body


def test_a_configured_label_replaces_the_default(bot: Serve, github: StandInGitHub, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "lbl", {**CALC, ".github/repomind.yml": "label: autofix\n"})
    github.add_repo("acme/lbl", repo)
    github.state.open_issue("acme/lbl", "x", "y")
    github.state.set_permission("acme/lbl", "alice", "admin")
    server = bot()
    for name in ("repomind", "autofix"):
        payload = adjust(fixture("issues.labeled"), repo="acme/lbl", issue=1, sender="alice", label=name)
        server.deliver("issues", payload, delivery=f"lbl-{name}")
    wait_for(lambda: dispatched(server, "lbl-repomind") and dispatched(server, "lbl-autofix"))
    [job] = server.ledger.all_jobs()
    assert job.trigger == "label" and job.delivery_id == "lbl-autofix"


def test_status_names_the_label_the_repository_configures(
    bot: Serve, github: StandInGitHub, tmp_path: Path
) -> None:
    """`/repomind status` before any run says which label starts one: the repository's, not `repomind`."""
    repo = make_git_repo(tmp_path / "lbl", {**CALC, ".github/repomind.yml": "label: autofix\n"})
    github.add_repo("acme/lbl", repo)
    github.state.open_issue("acme/lbl", "x", "y")
    github.state.set_permission("acme/lbl", "alice", "admin")
    server = bot()
    for name in ("acme/lbl", REPO):
        cid = github.state.comment_as(name, 1, "/repomind status", user="alice")
        payload = adjust(
            fixture("issue_comment.created.with-installation"),
            repo=name,
            issue=1,
            sender="alice",
            comment="/repomind status",
        )
        payload["comment"]["id"] = cid
        payload["issue"].pop("pull_request", None)
        delivery = f"status-{name}"
        assert server.deliver("issue_comment", payload, delivery=delivery).status_code == 202
        wait_for(lambda d=delivery: dispatched(server, d), what="the status reply")
    [configured] = bot_comments(github, 1, repo="acme/lbl")
    assert "Label it `autofix`" in configured.body and "`repomind`" not in configured.body
    [default] = [c for c in bot_comments(github, 1, repo=REPO) if "has not run" in c.body]
    assert "Label it `repomind`" in default.body


def test_cancel_stops_a_running_job_at_the_next_boundary(bot: Serve, github: StandInGitHub) -> None:
    pipeline = FakePipeline(edits={"calc.py": FIXED}, gate=lambda: False)  # would wait for ever
    server = bot(pipeline, job_lease_s=3.0)
    label(server)
    wait_for(lambda: pipeline.calls, what="the job to start")
    comment(server, "/repomind cancel")
    wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.CANCELLED, what="cancel")
    status = next(c for c in bot_comments(github, 1, repo=REPO) if "repomind:job:1" in c.body)
    assert "cancelled" in status.body
    replies = [c for c in bot_comments(github, 1, repo=REPO) if "Cancelling job 1" in c.body]
    assert len(replies) == 1
    assert github.state.pulls(REPO) == [] and "repomind/issue-1" not in github.state.branches(REPO)


def test_answers_files_status_help_include_explain(bot: Serve, github: StandInGitHub) -> None:
    server = bot()
    label(server)
    wait_for(lambda: github.state.pulls(REPO), what="the PR")
    wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED)
    for text in (
        "/repomind files",
        "/repomind status",
        "/repomind help",
        "/repomind include src/calc.py",
        "/repomind explain",
        "/repomind frobnicate",
    ):
        delivery = comment(server, text)
        wait_for(lambda d=delivery: dispatched(server, d), what=text)
    bodies = [c.body for c in bot_comments(github, 1, repo=REPO) if "repomind:job:" not in c.body]
    files, status, help_, include, explain, unknown = bodies
    assert "`calc.py`" in files and "90% confidence" in files
    assert "| 1 | `fix` | succeeded | @alice | #2 |" in status
    assert "/repomind revise <feedback>" in help_
    assert "`src/calc.py` will always be in" in include
    assert server.ledger.pins(REPO, 1) == (["src/calc.py"], [])
    assert "Job 1 (`fix`, requested by @alice) is **succeeded**" in explain
    assert "made 1 attempt, each tested in the sandbox" in explain and "Scripted change to calc.py" in explain
    assert "unknown command `frobnicate`" in unknown
    assert all("/repomind help" in b for b in bodies)


def test_needs_hint_then_fix_anyway(bot: Serve, github: StandInGitHub) -> None:
    pipeline = FakePipeline(edits={"calc.py": FIXED}, status=OutcomeStatus.NEEDS_HINT)
    server = bot(pipeline)
    label(server)
    wait_for(lambda: server.ledger.all_jobs() and server.ledger.all_jobs()[0].state is JobState.FAILED)
    status = bot_comments(github, 1, repo=REPO)[0].body
    assert "needs a hint" in status and "/repomind fix --anyway" in status and "`calc.py`" in status
    assert github.state.pulls(REPO) == []
    comment(server, "/repomind fix --anyway")
    wait_for(lambda: github.state.pulls(REPO), what="the PR after --anyway")
    assert pipeline.calls[-1]["hints"].anyway  # type: ignore[attr-defined]
    assert pipeline.calls[-1]["repo"] == REPO  # the pipeline knows whose calibration to use


def test_a_failed_run_explains_and_pushes_nothing(bot: Serve, github: StandInGitHub) -> None:
    server = bot(FakePipeline(edits={"calc.py": FIXED}, status=OutcomeStatus.FAILED))
    label(server)
    wait_for(lambda: server.ledger.all_jobs() and server.ledger.all_jobs()[0].state is JobState.FAILED)
    status = bot_comments(github, 1, repo=REPO)[0].body
    assert (
        "no passing patch" in status and "the tests still fail" in status and "Nothing was pushed" in status
    )
    assert "❌ test-failure" in status  # the fake spells categories as the real pipeline does
    assert github.state.pulls(REPO) == [] and github.state.branches(REPO) == ["main"]


def test_revise_on_the_bot_pr_continues_from_its_branch(bot: Serve, github: StandInGitHub) -> None:
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server = bot(pipeline)
    label(server)
    wait_for(lambda: github.state.pulls(REPO), what="the PR")
    wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED)
    [pr] = github.state.pulls(REPO)
    pipeline.edits = {"calc.py": FIXED + "\n\ndef sub(a, b):\n    return a - b\n"}
    body = "/repomind revise also add sub()"
    payload = adjust(
        fixture("issue_comment.created.pull_request"), issue=pr.number, sender="alice", comment=body
    )
    payload["comment"]["id"] = github.state.comment_as(REPO, pr.number, body, user="alice")
    assert server.deliver("issue_comment", payload).status_code == 202
    wait_for(
        lambda: len(server.ledger.all_jobs()) == 2 and server.ledger.all_jobs()[1].state.value == "succeeded"
    )
    job = server.ledger.all_jobs()[1]
    assert job.command == "revise" and job.issue_number == 1 and job.thread_number == pr.number
    assert pipeline.calls[-1]["hints"].feedback == "also add sub()"  # type: ignore[attr-defined]
    # the revision's work tree started from the PR branch, and its commit sits on top of the first one
    log = git(github.state.repos[REPO].git_dir, "log", "--format=%s", "repomind/issue-1")
    assert log.count("Fix #1") == 2
    assert "def sub" in (github.state.get_file(REPO, "calc.py", "repomind/issue-1") or "")
    assert len(github.state.pulls(REPO)) == 1
    assert [c for c in bot_comments(github, pr.number, repo=REPO) if "repomind:job:2" in c.body]
