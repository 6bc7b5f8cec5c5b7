"""The Learning and Health pages: behind the sign-in (the stand-in GitHub's OAuth), each viewer sees only
the repositories they can read, the operator everything; Docker down is said, not a crash."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import update

from repomind.sandbox.inventory import ImageInfo
from repomind.server.app import create_app
from repomind.server.feedback_plot import plot
from repomind.store import Adapter, Feedback, JobRequest, JobState, Ledger, TrainingJob, TrainingState
from repomind.store.workers import WorkerRecord, register
from repomind.testing import FakeImages, StandInGitHub
from repomind.testing.github.server import free_port
from tests.bot.helpers import Server
from tests.server.acme import OPERATOR, acme_github, sign_in, signin_settings

NOW = datetime.now(UTC)
IMAGES = [
    ImageInfo("repomind-sandbox:py3.11", NOW - timedelta(days=3), 300 * 2**20),
    ImageInfo("repomind-env/acme-secret:0123456789abcdef", NOW - timedelta(hours=5), 320 * 2**20),
]


@dataclass
class Site:
    server: Server
    images: FakeImages
    ledger: Ledger

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def github(tmp_path: Path) -> Iterator[StandInGitHub]:
    with acme_github(tmp_path) as gh:
        gh.state.set_permission("acme/calc", "alice", "none")  # alice reads acme/secret only, here
        yield gh


def _result(files: list[str], source: str, n: int, cost: float = 0.0) -> dict[str, object]:
    localisation = {
        "files": [{"path": f, "score": 1.0} for f in files],
        "set": files,
        "confidence": 0.9,
        "signals": [],
        "calibration": {"source": source, "n": n},
    }
    return {"status": "succeeded", "localisation": localisation, "cost_usd": cost}


def _seed(ledger: Ledger) -> None:
    calc, _ = ledger.open_job(JobRequest("acme/calc", 1, 1, "label", "fix"))
    ledger.update_job(calc.id, result=_result(["calc.py", "util.py"], "github", 60, 1.25))
    ledger.finish(calc.id, JobState.SUCCEEDED)
    revise, _ = ledger.open_job(JobRequest("acme/calc", 1, 1, "command", "revise", args={"feedback": "x"}))
    ledger.finish(revise.id, JobState.SUCCEEDED)
    secret, _ = ledger.open_job(JobRequest("acme/secret", 2, 3, "label", "fix"))
    ledger.update_job(secret.id, result=_result(["a.py", "b.py", "c.py"], "shared", 77, 6.0))
    ledger.finish(secret.id, JobState.SUCCEEDED)
    scores = {"base": {"loss": 2.5, "exact_match": 0.1}, "adapter": {"loss": 1.25, "exact_match": 0.4}}
    with ledger.session() as s:
        merged = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n"
        s.add(
            Feedback(
                repo="acme/calc",
                pr_number=5,
                installation_id=1,
                job_id=calc.id,
                merged=True,
                merged_diff=merged,
                recorded_at=NOW - timedelta(days=8),
            )
        )
        s.add(Feedback(repo="acme/secret", pr_number=6, installation_id=2, job_id=secret.id, merged=False))
        for scope, version, promoted in (("installation:1", 1, True), ("installation:2", 2, False)):
            metrics = {**scores, "train_examples": 40 + version, "eval_examples": 9}
            s.add(
                TrainingJob(
                    dataset_hash=f"{version}" * 64,
                    dataset_path="/d",
                    base_model="tiny",
                    scope=scope,
                    state=TrainingState.SUCCEEDED,
                    metrics=metrics,
                    adapter_id=version,
                )
            )
            s.add(
                Adapter(
                    id=version,
                    version=version,
                    dataset_hash=f"{version}" * 64,
                    base_model="tiny",
                    scope=scope,
                    path="/a",
                    metrics=scores,
                    promoted=promoted,
                    decision=f"decision of scope {scope}",
                )
            )
    register(ledger, ("events", "pipeline"), worker_id="host-a:101:aaaa1111")
    register(ledger, ("training",), worker_id="gpu-b:202:bbbb2222")
    with ledger.session() as s:  # gpu-b was killed ten minutes ago
        s.execute(
            update(WorkerRecord)
            .where(WorkerRecord.host == "gpu-b")
            .values(last_seen=datetime.now(UTC) - timedelta(minutes=10))
        )


@pytest.fixture
def site(github: StandInGitHub, tmp_path: Path) -> Iterator[Site]:
    settings = signin_settings(github, tmp_path, max_concurrent_jobs=2, monthly_budget_usd=5.0)
    images = FakeImages(list(IMAGES))
    app = create_app(settings, worker=False, images=images)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    running = Server(f"http://127.0.0.1:{port}", server, thread, settings)
    _seed(running.ledger)
    try:
        yield Site(running, images, running.ledger)
    finally:
        running.stop()


def _operator(site: Site, path: str) -> httpx.Response:
    return httpx.get(f"{site.url}{path}", headers={"Authorization": f"Bearer {OPERATOR}"})


def test_anonymous_visitors_are_sent_to_sign_in(site: Site) -> None:
    for path in ("/health", "/learning"):
        page = httpx.get(f"{site.url}{path}")
        assert page.status_code == 303 and page.headers["location"].startswith("/login?"), path
        assert "acme" not in page.text


def test_the_operator_sees_queue_workers_images_and_every_calibration(site: Site) -> None:
    page = _operator(site, "/health")
    assert page.status_code == 200, page.text
    text = page.text
    for lane in ("events", "pipeline", "training"):
        assert f'data-lane="{lane}"' in text
    alive = re.search(r'<tr data-worker="host-a:101:aaaa1111" class="(\w+)">', text)
    stale = re.search(r'<tr data-worker="gpu-b:202:bbbb2222" class="(\w+)">', text)
    assert alive and alive.group(1) == "alive" and stale and stale.group(1) == "stale"
    assert "10 min ago" in text
    assert 'data-image="repomind-sandbox:py3.11"' in text and "3 d ago" in text
    assert "repomind-env/acme-secret" in text  # the operator is told which environments are cached
    calc = re.search(r'<tr data-repo="acme/calc">(.*?)</tr>', text, re.S)
    assert calc is not None
    # the merged fix changed calc.py, which the set held: coverage 1 of 1; sets of 2 files on average
    assert "github (60 pairs)" in calc.group(1) and "1.00 (1 of 1 merged fixes)" in calc.group(1)
    assert "<td>2.0</td>" in calc.group(1)
    assert 'data-repo="acme/secret"' in text
    # each installation's use of its limits: installation 1 under its budget, installation 2 over it
    one = re.search(r'<tr data-installation="1" class="">(.*?)</tr>', text, re.S)
    three = re.search(r'<tr data-installation="2" class="warning">(.*?)</tr>', text, re.S)
    assert one and "acme/calc" in one.group(1) and "$1.25 of $5.00" in one.group(1)
    assert "of at most 2" in one.group(1)
    assert three and "$6.00 of $5.00" in three.group(1) and "<strong>spent</strong>" in three.group(1)


def test_docker_down_is_said_on_the_page(site: Site) -> None:
    site.images.down = True
    page = _operator(site, "/health")
    assert page.status_code == 200
    assert 'id="docker-down"' in page.text and "Docker cannot be reached" in page.text
    assert 'data-lane="pipeline"' in page.text  # the rest of the page is still there


def test_a_reader_sees_only_what_they_can_read(site: Site, github: StandInGitHub) -> None:
    with closing(sign_in(site.server, github, "mallory", next_page="/health")) as browser:
        health = browser.get("/health").text
        assert 'data-repo="acme/calc"' in health and "acme/secret" not in health
        assert "1 cached repository environments" in health  # counted, not named
        assert 'data-worker="host-a:101:aaaa1111"' in health
        assert 'data-installation="1"' in health and 'data-installation="2"' not in health
        learning = browser.get("/learning")
        assert learning.status_code == 200
        text = learning.text
        assert "acme/calc" in text and "acme/secret" not in text
        assert 'data-training-job="1"' in text and 'data-training-job="2"' not in text
        assert 'data-adapter="1"' in text and 'data-adapter="2"' not in text
        assert "decision of scope installation:2" not in text
        assert "<script" not in text and "<svg" in text
    with closing(sign_in(site.server, github, "alice", next_page="/learning")) as browser:
        text = browser.get("/learning").text
        assert "acme/secret" in text and 'data-training-job="2"' in text and "acme/calc" not in text


def test_the_learning_page_shows_training_before_and_after_and_feedback_per_week(site: Site) -> None:
    text = _operator(site, "/learning").text
    job = re.search(r'<tr data-training-job="1">(.*?)</tr>', text, re.S)
    assert job is not None
    cells = job.group(1)
    assert "41 / 9" in cells and "2.500, 0.10" in cells and "1.250, 0.40" in cells
    assert "v1" in cells and "promoted: decision of scope installation:1" in cells
    assert "not promoted" in text  # adapter 2
    assert text.count("<svg") == 2  # one chart per repository
    assert "acme/calc: 1 merged, 0 closed, 1 revised" in text


def test_the_plot_counts_each_series_by_week() -> None:
    today = datetime(2027, 1, 13, tzinfo=UTC)  # a Wednesday
    events = [
        ("merged", today - timedelta(days=14)),
        ("merged", today - timedelta(days=13)),
        ("closed", today),
        ("revised", today - timedelta(days=1)),
    ]
    chart = plot("o/r", events, today.date())
    assert [f"{w:%m-%d}" for w in chart.weeks] == ["12-28", "01-04", "01-11"]
    assert chart.counts == {"merged": [2, 0, 0], "closed": [0, 0, 1], "revised": [0, 0, 1]}
    assert chart.top == 2
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.series == "merged" and tallest.title == "2 merged, week of 2026-12-28"
    half = next(b for b in chart.bars if b.series == "closed")
    assert abs(half.height * 2 - tallest.height) < 1e-6
    old = plot("o/r", [("merged", today - timedelta(days=400))], today.date())
    assert len(old.weeks) == 26 and sum(old.counts["merged"]) == 0  # older than the window: left out
