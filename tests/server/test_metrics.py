"""``GET /metrics``: deliveries by outcome, acknowledgement times and ledger jobs, as Prometheus text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from repomind.server.app import create_app
from repomind.settings import Settings
from repomind.store.ledger import JobRequest
from repomind.store.models import JobState
from tests.bot.helpers import OPERATOR, OPERATOR_TOKEN, SECRET, headers, raw_fixture


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        app_id="1",
        private_key=SecretStr("unused"),
        webhook_secret=SecretStr(SECRET),
        data_dir=tmp_path,
        operator_token=SecretStr(OPERATOR_TOKEN),
    )
    with TestClient(create_app(settings, worker=False)) as test_client:
        yield test_client


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = client.get("/metrics", headers=OPERATOR)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def test_deliveries_are_counted_by_outcome_and_timed(client: TestClient) -> None:
    body = raw_fixture("issue_comment.created.with-installation")
    good = headers("issue_comment", body, delivery="d-1")
    assert client.post("/webhooks/github", content=body, headers=good).status_code == 202
    assert client.post("/webhooks/github", content=body, headers=good).status_code == 200  # redelivery
    forged = headers("made-up-event", body, secret="wrong")
    assert client.post("/webhooks/github", content=body, headers=forged).status_code == 401
    star = b'{"action": "created"}'  # an event Repomind does not handle
    assert client.post("/webhooks/github", content=star, headers=headers("star", star)).status_code == 204

    samples = _samples(client)
    count = "repomind_webhook_deliveries_total"
    assert samples[(count, (("event", "issue_comment"), ("outcome", "queued")))] == 1
    assert samples[(count, (("event", "issue_comment"), ("outcome", "duplicate")))] == 1
    assert samples[(count, (("event", "star"), ("outcome", "ignored")))] == 1
    # A forged delivery's event header never becomes a label.
    assert samples[(count, (("event", "unverified"), ("outcome", "bad_signature")))] == 1
    assert not any(dict(labels).get("event") == "made-up-event" for _, labels in samples)
    assert samples[("repomind_webhook_ack_seconds_count", ())] == 4
    assert samples[("repomind_queue_pending", ())] == 1


def test_jobs_and_their_spending_come_from_the_ledger(client: TestClient) -> None:
    ledger = client.app.state.runtime.ledger  # type: ignore[attr-defined]
    done, _ = ledger.open_job(JobRequest("acme/calc", 1, 1, "label", "fix"))
    ledger.update_job(done.id, result={"tokens": 1200, "cost_usd": 0.25, "attempts": [{}, {}]})
    ledger.finish(done.id, JobState.SUCCEEDED)
    ledger.open_job(JobRequest("acme/calc", 1, 2, "label", "fix"))

    samples = _samples(client)
    assert samples[("repomind_jobs", (("state", "succeeded"),))] == 1
    assert samples[("repomind_jobs", (("state", "queued"),))] == 1
    assert samples[("repomind_jobs", (("state", "failed"),))] == 0
    assert samples[("repomind_tokens_total", ())] == 1200
    assert samples[("repomind_cost_usd_total", ())] == pytest.approx(0.25)
    assert samples[("repomind_attempts_total", ())] == 2
