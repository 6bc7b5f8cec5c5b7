"""Tenants and triggers through the real app, worker and GitHub stand-in, with GitHub's own payloads:
uninstalling deletes what an installation left (and only that), removing a repository deletes its data,
old runs expire, closing the issue or removing the label cancels its job, `/repomind` works in review
threads, and the server's budget ceiling holds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from repomind.repoconfig import RepoConfig
from repomind.store import (
    Adapter,
    Delivery,
    Feedback,
    Job,
    JobEvent,
    JobState,
    Ledger,
    TrainingJob,
    make_engine,
)
from repomind.store import feedback as feedback_store
from repomind.testing import FakePipeline, StandInGitHub, make_git_repo
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import (
    INSTALLATION,
    REPO,
    Server,
    adjust,
    bot_pull,
    fixture,
    serve,
    settings_for,
    wait_for,
)

Serve = Callable[..., Server]
OTHER = 88


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


def _label(server: Server, *, user: str = "alice") -> None:
    payload = adjust(fixture("issues.labeled"), issue=1, sender=user, label="repomind")
    assert server.deliver("issues", payload).status_code == 202


def _tenant_data(data: Path, ledger: Ledger, installation: int, repo: str, job_id: int) -> list[Path]:
    """What an installation leaves behind: a job with its run directory and live log, feedback, a
    training job with its dataset and adapter, the repository's index and calibration."""
    slug = repo.replace("/", "__")
    run_dir = data / "runs" / f"run-{job_id}"
    dataset = data / "training" / "datasets" / f"ds-{job_id}"
    adapter = data / "training" / "jobs" / str(job_id) / "adapter"
    index = data / "index" / f"installation-{installation}" / slug
    calibration = data / "calibrations" / f"{slug}.json"
    for d in (run_dir, dataset, adapter, index):
        d.mkdir(parents=True, exist_ok=True)
        (d / "secret.txt").write_text(f"private code of {repo}")
    calibration.parent.mkdir(parents=True, exist_ok=True)
    calibration.write_text("{}")
    with ledger.session() as s:
        s.add(
            Job(
                id=job_id,
                repo=repo,
                installation_id=installation,
                issue_number=5,
                trigger="label",
                command="fix",
                state=JobState.SUCCEEDED,
                result={"run_id": run_dir.name},
            )
        )
        s.add(JobEvent(job_id=job_id, kind="status", message="done"))
        scope = f"installation:{installation}"
        s.add(TrainingJob(id=job_id, dataset_hash=f"{installation}-{job_id}", dataset_path=str(dataset),
                          base_model="m", scope=scope, state="succeeded"))  # fmt: skip
        s.add(Adapter(version=job_id, job_id=job_id, dataset_hash="h", base_model="m", scope=scope,
                      path=str(adapter), promoted=True))  # fmt: skip
    feedback_store.save(
        ledger,
        feedback_store.FeedbackRecord(repo=repo, pr_number=job_id, merged=True, installation_id=installation),
    )
    return [run_dir, dataset, adapter, index, calibration]


def _rows(ledger: Ledger, model: Any, **where: Any) -> int:
    with ledger.reading() as s:
        return sum(1 for row in s.query(model).all() if all(getattr(row, k) == v for k, v in where.items()))


def test_uninstalling_deletes_the_installations_data_and_nothing_else(
    bot: Serve, github: StandInGitHub, tmp_path: Path
) -> None:
    server = bot()
    data, ledger = server.settings.data_dir, server.ledger
    _label(server)  # a real job of installation 77 through the app
    wait_for(lambda: [j.state for j in ledger.all_jobs()] == [JobState.SUCCEEDED], what="the job")
    mine = _tenant_data(data, ledger, INSTALLATION, REPO, 100)
    theirs = _tenant_data(data, ledger, OTHER, "globex/rocket", 200)

    payload = fixture("installation.deleted")  # GitHub's own payload, for installation 77
    payload["installation"]["id"] = INSTALLATION
    assert server.deliver("installation", payload).status_code == 202
    wait_for(lambda: _rows(ledger, Job, installation_id=INSTALLATION) == 0, what="the purge")
    wait_for(lambda: not any(p.exists() for p in mine), what="the files")
    assert _rows(ledger, Feedback, installation_id=INSTALLATION) == 0
    assert _rows(ledger, TrainingJob, scope=f"installation:{INSTALLATION}") == 0
    assert _rows(ledger, Adapter, scope=f"installation:{INSTALLATION}") == 0
    assert _rows(ledger, JobEvent, job_id=100) == 0
    assert not (data / "index" / f"installation-{INSTALLATION}").exists()
    with ledger.reading() as s:  # the installation's webhook payloads (issue texts) are gone too
        payloads = [d.payload for d in s.query(Delivery).all()]
    assert all((p.get("installation") or {}).get("id") != INSTALLATION for p in payloads)
    # The other installation keeps everything.
    assert all(p.exists() for p in theirs)
    assert (
        _rows(ledger, Job, installation_id=OTHER) == 1 and _rows(ledger, Feedback, installation_id=OTHER) == 1
    )
    assert _rows(ledger, Adapter, scope=f"installation:{OTHER}") == 1


def test_removing_a_repository_deletes_its_data(bot: Serve, github: StandInGitHub) -> None:
    server = bot()
    data, ledger = server.settings.data_dir, server.ledger
    removed = _tenant_data(data, ledger, INSTALLATION, "acme/old", 100)
    kept = _tenant_data(data, ledger, INSTALLATION, REPO, 101)
    # GitHub's installation_repositories payload (recorded for "added"), as it is sent for a removal.
    payload = fixture("installation_repositories.added")
    payload.update(
        action="removed", repositories_removed=payload["repositories_added"], repositories_added=[]
    )
    payload["repositories_removed"][0]["full_name"] = "acme/old"
    payload["installation"]["id"] = INSTALLATION
    assert server.deliver("installation_repositories", payload).status_code == 202
    wait_for(lambda: _rows(ledger, Job, repo="acme/old") == 0, what="the purge")
    wait_for(lambda: not removed[0].exists() and not removed[3].exists(), what="the files")
    assert _rows(ledger, Feedback, repo="acme/old") == 0 and not removed[4].exists()
    # The installation's datasets and adapters may hold the repository's examples: gone too, and the
    # remaining feedback waits to be trained on again; the other repository's runs stay.
    assert _rows(ledger, Adapter, scope=f"installation:{INSTALLATION}") == 0
    assert _rows(ledger, Job, repo=REPO) == 1 and kept[0].exists() and kept[3].exists()
    assert _rows(ledger, Feedback, repo=REPO, consumed=False) == 1


def test_runs_past_the_retention_period_are_deleted_at_start(github: StandInGitHub, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ledger = Ledger(make_engine(f"sqlite:///{data / 'repomind.db'}"))
    old = _tenant_data(data, ledger, INSTALLATION, REPO, 100)
    new = _tenant_data(data, ledger, INSTALLATION, REPO, 101)
    with ledger.session() as s:
        s.get(Job, 100).updated_at = datetime.now(UTC) - timedelta(days=40)  # type: ignore[union-attr]
    ledger.dispose()
    server = serve(settings_for(github, data, retention_days=30), pipeline=FakePipeline())
    try:
        wait_for(lambda: _rows(server.ledger, Job, id=100) == 0, what="the sweep")
        assert not old[0].exists() and _rows(server.ledger, JobEvent, job_id=100) == 0
        assert _rows(server.ledger, Job, id=101) == 1 and new[0].exists()
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["closed", "unlabeled"])
def test_closing_the_issue_or_removing_the_label_cancels_its_job(
    bot: Serve, github: StandInGitHub, how: str
) -> None:
    gate = threading.Event()
    started = threading.Event()
    server = bot(FakePipeline(edits={"calc.py": FIXED}, gate=gate.is_set, on_start=lambda _t: started.set()))
    _label(server)
    assert started.wait(30)
    name = "issues.unlabeled" if how == "unlabeled" else "issues.labeled"
    payload = adjust(fixture(name), issue=1, sender="alice", label="repomind")
    payload["action"] = how
    assert server.deliver("issues", payload).status_code == 202
    wait_for(lambda: server.ledger.all_jobs()[0].cancel_requested, what="the cancel")
    gate.set()
    wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.CANCELLED, what="the job to stop")
    assert github.state.pulls(REPO) == []


def test_another_labels_removal_cancels_nothing(bot: Serve, github: StandInGitHub) -> None:
    gate = threading.Event()
    server = bot(FakePipeline(edits={"calc.py": FIXED}, gate=gate.is_set))
    _label(server)
    wait_for(lambda: server.ledger.all_jobs(), what="the job")
    payload = adjust(fixture("issues.unlabeled"), issue=1, sender="alice", label="bug")
    assert server.deliver("issues", payload, delivery="unl-bug").status_code == 202
    wait_for(
        lambda: (d := server.ledger.delivery("unl-bug")) is not None and d.dispatched_at, what="dispatch"
    )
    gate.set()
    wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED, what="the job")


def _review_comment(server: Server, body: str, *, number: int, user: str = "alice") -> str:
    payload = adjust(fixture("pull_request_review_comment.created"), sender=user)
    payload["comment"].update(body=body)
    payload["comment"]["user"].update(login=user, type="User")
    payload["pull_request"]["number"] = number
    resp = server.deliver("pull_request_review_comment", payload)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["delivery"])


def test_a_command_in_an_inline_review_thread_starts_a_revision(bot: Serve, github: StandInGitHub) -> None:
    server = bot()
    pr = bot_pull(github)
    _review_comment(server, "/repomind revise use sum() instead", number=pr)
    job = wait_for(lambda: server.ledger.all_jobs(), what="the job")[0]
    assert job.command == "revise" and job.args == {"feedback": "use sum() instead"} and job.issue_number == 1
    assert job.thread_number == pr


def test_review_thread_commands_on_other_prs_and_by_outsiders_start_nothing(
    bot: Serve, github: StandInGitHub
) -> None:
    server = bot()
    ours = bot_pull(github)
    # a person's PR: not the bot's
    theirs = github.state.open_pull(REPO, head="main", user="bob")
    d1 = _review_comment(server, "/repomind fix", number=theirs)
    d2 = _review_comment(server, "/repomind fix", number=ours, user="mallory")
    wait_for(
        lambda: all((d := server.ledger.delivery(x)) is not None and d.dispatched_at for x in (d1, d2)),
        what="dispatch",
    )
    assert server.ledger.all_jobs() == []
    assert any("Sorry @mallory" in c.body for c in github.state.comments_on(REPO, ours))


def test_the_servers_budget_ceiling_clamps_the_repositorys_and_says_so(
    bot: Serve, github: StandInGitHub, tmp_path: Path
) -> None:
    config_file = "budget_usd: 50\nbudget_tokens: 900000\n"
    github.add_repo(
        "acme/big", make_git_repo(tmp_path / "big", {**CALC, ".github/repomind.yml": config_file})
    )
    github.state.open_issue("acme/big", "x", "y")
    github.state.set_permission("acme/big", "alice", "write")
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server = bot(pipeline, max_budget_usd=2.0, max_budget_tokens=100000)
    payload = adjust(fixture("issues.labeled"), repo="acme/big", issue=1, sender="alice", label="repomind")
    assert server.deliver("issues", payload).status_code == 202
    wait_for(lambda: [j.state for j in server.ledger.all_jobs()] == [JobState.SUCCEEDED], what="the job")
    config: RepoConfig = pipeline.calls[-1]["config"]  # type: ignore[assignment]
    assert config.budget_usd == 2.0 and config.budget_tokens == 100000
    status = next(c.body for c in github.state.comments_on("acme/big", 1) if "repomind:job:" in c.body)
    assert "this run may spend at most $2" in status and "at most 100,000 tokens" in status
