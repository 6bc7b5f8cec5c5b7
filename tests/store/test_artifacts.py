"""Run artifacts in the shared store: the ledger's table (SQLite and a real PostgreSQL), an S3-compatible
bucket (a real S3 server on loopback: moto's, ``services``), and the in-memory fake keep the same
contract; a run uploaded by one host is read by training on another whose disk never had it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from repomind.bot.solving.uploads import RunUploads, upload_run
from repomind.errors import ConfigError
from repomind.pipeline.solve import events as ev
from repomind.settings import Settings
from repomind.store import Job, JobRequest, JobState, Ledger, make_engine
from repomind.store.artifacts import Artifacts, LedgerArtifacts, S3Artifacts, open_artifacts
from repomind.store.purge import Purger
from repomind.testing import MemoryArtifacts
from repomind.testing.github.server import free_port
from repomind.training.store_source import store_examples
from tests.requirements import missing
from tests.services import PostgresServer
from tests.training.helpers import BOT_DIFF, add_feedback, make_run


@pytest.fixture(scope="module")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server (moto's, the ``moto[server]`` dev dependency) on loopback."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if server is None:
        missing("services", "moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, "moto_server did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.services),
        pytest.param("s3", marks=pytest.mark.services),
    ]
)
def artifacts(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Artifacts]:
    if request.param == "memory":
        yield MemoryArtifacts()
        return
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_url")
        for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        bucket = f"runs-{time.time_ns()}"
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        settings = Settings(
            data_dir=tmp_path, artifacts_url=f"s3://{bucket}/repomind", artifacts_endpoint_url=endpoint
        )
        made = open_artifacts(settings, Ledger(make_engine(f"sqlite:///{tmp_path / 'unused.db'}")))
        assert isinstance(made, S3Artifacts) and made.prefix == "repomind"
        yield made
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'repomind.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.new_database("artifacts")
    ledger = Ledger(make_engine(url))
    try:
        made = open_artifacts(Settings(data_dir=tmp_path), ledger)
        assert isinstance(made, LedgerArtifacts)
        yield made
    finally:
        ledger.dispose()


def test_every_store_keeps_puts_replaces_and_lists_a_runs_files(artifacts: Artifacts) -> None:
    assert artifacts.get("run-1", "report.json") is None and artifacts.names("run-1") == []
    artifacts.put("run-1", "trajectory.jsonl", b'{"a": 1}\n')
    artifacts.put("run-1", "trajectory.jsonl", b'{"a": 1}\n{"b": 2}\n')  # grown: replaced
    artifacts.put("run-1", "attempt-1/patch.diff", b"\x00\xff binary kept")
    artifacts.put("run-2", "report.json", b"{}")
    assert artifacts.get("run-1", "trajectory.jsonl") == b'{"a": 1}\n{"b": 2}\n'
    assert artifacts.get("run-1", "attempt-1/patch.diff") == b"\x00\xff binary kept"
    assert artifacts.names("run-1") == ["attempt-1/patch.diff", "trajectory.jsonl"]
    assert artifacts.names("run-2") == ["report.json"]
    # names that would reach out of a run, or another run's files: refused, never read
    for run_id, name in [("..", "x"), ("run-1", "../run-2/report.json"), ("a/b", "x"), ("run-1", "/etc")]:
        with pytest.raises(ValueError):
            artifacts.put(run_id, name, b"x")
        assert artifacts.get(run_id, name) is None
    assert artifacts.get("run-1", "../run-2/report.json") is None and artifacts.names("..") == []


def test_every_store_deletes_one_runs_files_and_nothing_else(artifacts: Artifacts) -> None:
    artifacts.put("run-1", "report.json", b"{}")
    artifacts.put("run-1", "attempt-1/patch.diff", b"diff")
    artifacts.put("run-10", "report.json", b"{}")  # a run id that run-1 is a prefix of: kept
    assert artifacts.delete_run("run-1") == 2
    assert artifacts.names("run-1") == [] and artifacts.get("run-1", "report.json") is None
    assert artifacts.names("run-10") == ["report.json"]
    assert artifacts.delete_run("run-1") == 0 and artifacts.delete_run("..") == 0


def test_purging_an_installation_deletes_its_runs_files_in_a_bucket(tmp_path: Path) -> None:
    """Artifacts kept outside the ledger (a bucket; its fake here) go with the installation's jobs."""
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'p.db'}"))
    bucket = MemoryArtifacts()
    mine, _ = ledger.open_job(JobRequest("acme/calc", 1, 1, "label", "fix"))
    theirs, _ = ledger.open_job(JobRequest("zeta/app", 2, 1, "label", "fix"))
    ledger.update_job(mine.id, result={"run_id": "run-mine"}, state=JobState.SUCCEEDED)
    ledger.update_job(theirs.id, result={"run_id": "run-theirs"}, state=JobState.SUCCEEDED)
    for run_id in ("run-mine", "run-theirs"):
        bucket.put(run_id, "report.json", b"{}")
        bucket.put(run_id, "trajectory.jsonl", b"")
    purger = Purger(ledger, tmp_path, tmp_path / "runs", tmp_path / "training", artifacts=bucket)
    assert purger.installation(1)["artifacts"] == 2
    assert bucket.names("run-mine") == [] and bucket.names("run-theirs") == [
        "report.json",
        "trajectory.jsonl",
    ]
    ledger.dispose()


def test_a_bad_artifacts_url_is_a_config_error(tmp_path: Path) -> None:
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    with pytest.raises(ConfigError, match="s3://bucket/prefix"):
        open_artifacts(Settings(data_dir=tmp_path, artifacts_url="https://bucket/x"), ledger)


def test_the_worker_uploads_the_trajectory_as_it_grows_and_every_file_at_the_end(tmp_path: Path) -> None:
    store = MemoryArtifacts()
    run = tmp_path / "runs" / "run-7"
    (run / "attempt-1").mkdir(parents=True)
    (run / "trajectory.jsonl").write_text('{"n": 1}\n')
    (tmp_path / "secret").write_text("host file")
    (run / "link").symlink_to(tmp_path / "secret")  # a symlink in a run is never followed
    uploads = RunUploads(store, tmp_path / "runs")
    uploads(ev.RunStarted("run-7", "o/r", "abc", "m", "issue", 1, {}))
    assert store.puts == []
    uploads(ev.StepTaken(1, "t", "search", {}, "ok", "1 match", None, 1, 1, None, 0.1))
    assert store.get("run-7", "trajectory.jsonl") == b'{"n": 1}\n'
    (run / "trajectory.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    uploads(ev.StepTaken(2, "t", "view", {}, "ok", "text", None, 1, 1, None, 0.1))
    assert store.get("run-7", "trajectory.jsonl") == b'{"n": 1}\n{"n": 2}\n'
    (run / "report.json").write_text("{}")
    (run / "attempt-1" / "patch.diff").write_text("diff")
    assert uploads.finish("run-7", str(run)) == ["attempt-1/patch.diff", "report.json", "trajectory.jsonl"]
    assert store.names("run-7") == ["attempt-1/patch.diff", "report.json", "trajectory.jsonl"]


def test_training_reads_a_run_another_host_uploaded(tmp_path: Path) -> None:
    """The worker's run directory is gone (another host): the feedback is still joined with its run."""
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'repomind.db'}"))
    store = LedgerArtifacts(ledger)
    worker_runs = tmp_path / "worker-host" / "runs"
    run = make_run(worker_runs, "run-abc", "add() is wrong")
    assert upload_run(store, "run-abc", run)
    with ledger.session() as s:
        s.add(
            Job(
                repo="octo/calc",
                installation_id=1,
                issue_number=1,
                trigger="label",
                command="fix",
                state=JobState.SUCCEEDED,
                result={"run_id": "run-abc", "run_dir": str(run)},
            )
        )
    add_feedback(ledger, 1, merged=True, merged_diff=BOT_DIFF, job_id=1)
    shutil.rmtree(tmp_path / "worker-host")
    here = tmp_path / "trainer-host" / "runs"
    without, counts = store_examples(ledger, here)
    assert counts["with_run"] == 0 and counts["issue_only"] == 1
    examples, counts = store_examples(ledger, here, artifacts=store, installation_id=1)
    assert counts["with_run"] == 1 and counts["issue_only"] == 0
    assert {e.source for e in without} == {"accepted-issue-only"}
    assert "accepted" in {e.source for e in examples}  # the model's own reply, read from the stored run
    # the installation's purge deletes its runs' stored files with its jobs
    store.put("run-other", "report.json", b"{}")
    kept = len(store.names("run-abc"))
    assert Purger(ledger, tmp_path, here, tmp_path / "training").installation(1)["artifacts"] == kept
    assert store.names("run-abc") == [] and store.names("run-other") == ["report.json"]
    ledger.dispose()
