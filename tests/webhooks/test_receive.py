"""``POST /webhooks/github`` at the route: signatures, headers, JSON, routing, de-duplication."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from repomind.errors import ConfigError
from repomind.server.app import create_app
from repomind.settings import Settings
from repomind.store import Delivery
from repomind.webhooks.receive import MAX_BODY
from repomind.webhooks.signature import sign, verify
from tests.bot.helpers import SECRET, adjust, fixture, headers, raw_fixture, serve

#: github/docs "Validating webhook deliveries": secret, payload and the signature GitHub documents.
DOC_SECRET = "It's a Secret to Everybody"
DOC_PAYLOAD = b"Hello, World!"
DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_test_vector() -> None:
    assert sign(DOC_SECRET, DOC_PAYLOAD) == DOC_SIGNATURE
    assert verify(DOC_SECRET, DOC_PAYLOAD, DOC_SIGNATURE)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        DOC_SIGNATURE.replace("sha256=", "sha1="),
        DOC_SIGNATURE[:-1] + "0",
        DOC_SIGNATURE.removeprefix("sha256="),
        "sha256=" + hmac.new(b"other secret", DOC_PAYLOAD, hashlib.sha256).hexdigest(),
    ],
)
def test_verify_fails_closed(header: str | None) -> None:
    assert not verify(DOC_SECRET, DOC_PAYLOAD, header)
    assert not verify(DOC_SECRET, DOC_PAYLOAD + b" ", DOC_SIGNATURE)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        app_id="1", private_key=SecretStr("unused"), webhook_secret=SecretStr(SECRET), data_dir=tmp_path
    )
    with TestClient(create_app(settings, worker=False)) as test_client:
        yield test_client


def _deliveries(client: TestClient) -> list[Delivery]:
    ledger = client.app.state.runtime.ledger  # type: ignore[attr-defined]
    with ledger.session() as s:
        return list(s.query(Delivery).all())


def _pending(client: TestClient) -> int:
    return int(client.app.state.runtime.queue.pending())  # type: ignore[attr-defined]


def test_githubs_own_bytes_signed_as_github_signs_them_are_accepted(client: TestClient) -> None:
    body = raw_fixture("issue_comment.created.with-installation")  # byte for byte, untouched
    resp = client.post("/webhooks/github", content=body, headers=headers("issue_comment", body))
    assert resp.status_code == 202 and resp.json()["status"] == "queued"
    [stored] = _deliveries(client)
    assert stored.event == "issue_comment" and stored.action == "created"
    assert stored.payload == json.loads(body)
    assert _pending(client) == 1


def test_bad_signature_is_401_and_nothing_is_stored(client: TestClient) -> None:
    body = raw_fixture("issues.labeled")
    bad = headers("issues", body, secret="not the secret")
    resp = client.post("/webhooks/github", content=body, headers=bad)
    assert resp.status_code == 401 and "does not match" in resp.json()["detail"]
    tampered = headers("issues", body)
    resp = client.post("/webhooks/github", content=body.replace(b"labeled", b"unlabeled"), headers=tampered)
    assert resp.status_code == 401
    unsigned = {k: v for k, v in headers("issues", body).items() if k != "X-Hub-Signature-256"}
    resp = client.post("/webhooks/github", content=body, headers=unsigned)
    assert resp.status_code == 401 and "X-Hub-Signature-256" in resp.json()["detail"]
    assert _deliveries(client) == [] and _pending(client) == 0


def test_malformed_json_and_missing_headers_are_400_with_a_reason(client: TestClient) -> None:
    body = b'{"action": "labeled", '
    resp = client.post("/webhooks/github", content=body, headers=headers("issues", body))
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["detail"]
    body = raw_fixture("issues.labeled")
    for missing in ("X-GitHub-Event", "X-GitHub-Delivery"):
        partial = {k: v for k, v in headers("issues", body).items() if k != missing}
        resp = client.post("/webhooks/github", content=body, headers=partial)
        assert resp.status_code == 400 and missing in resp.json()["detail"]
    body = json.dumps({"action": "labeled", "sender": {"login": "a"}}).encode()
    resp = client.post("/webhooks/github", content=body, headers=headers("issues", body))
    assert resp.status_code == 400
    assert "repository" in resp.json()["detail"] and "issue" in resp.json()["detail"]
    assert _deliveries(client) == []


def test_unknown_events_and_actions_are_204(client: TestClient) -> None:
    for event, name in [
        ("ping", "ping.with-app_id"),
        ("issues", "issues.opened"),
        ("pull_request", "pull_request.opened"),
    ]:
        body = raw_fixture(name)
        resp = client.post("/webhooks/github", content=body, headers=headers(event, body))
        assert resp.status_code == 204, name
    assert _deliveries(client) == [] and _pending(client) == 0


def test_a_redelivered_delivery_is_a_no_op(client: TestClient) -> None:
    body = json.dumps(adjust(fixture("issues.labeled"), issue=1)).encode()
    hdrs = headers("issues", body, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    first = client.post("/webhooks/github", content=body, headers=hdrs)
    again = client.post("/webhooks/github", content=body, headers=hdrs)
    assert first.status_code == 202
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(_deliveries(client)) == 1 and _pending(client) == 1


def test_the_delivery_ledger_survives_a_restart(tmp_path: Path) -> None:
    settings = Settings(
        app_id="1", private_key=SecretStr("unused"), webhook_secret=SecretStr(SECRET), data_dir=tmp_path
    )
    body = json.dumps(adjust(fixture("issues.labeled"), issue=1)).encode()
    hdrs = headers("issues", body, delivery="d-1")
    with TestClient(create_app(settings)) as first:
        assert first.post("/webhooks/github", content=body, headers=hdrs).status_code == 202
    with TestClient(create_app(settings)) as second:
        assert second.post("/webhooks/github", content=body, headers=hdrs).status_code == 200


def test_healthz_answers_without_github(client: TestClient) -> None:
    assert client.get("/healthz").json()["mode"] == "ready"


def _raw_post(url: str, head: bytes, chunks: Iterator[bytes]) -> bytes:
    """POST over a raw socket: send ``head`` then ``chunks`` until the server answers; its answer."""
    import select
    import socket

    parts = httpx.URL(url)
    assert parts.port is not None
    with socket.create_connection((parts.host, parts.port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered before the body ended
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        return sock.recv(65536)


def test_a_body_over_25_mb_is_413_before_it_is_read(tmp_path: Path) -> None:
    settings = Settings(
        app_id="1", private_key=SecretStr("unused"), webhook_secret=SecretStr(SECRET), data_dir=tmp_path
    )
    server = serve(settings, pipeline=None, worker=False)
    try:
        # a declared length over the cap: answered at once, with no body sent at all
        head = (
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1)
        )
        answer = _raw_post(server.url, head, iter(()))
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        # a chunked body with no length: refused once it passes the cap, without waiting for its end
        sent = 0

        def chunks() -> Iterator[bytes]:
            nonlocal sent
            block = b"x" * (1024 * 1024)
            while sent < 4 * MAX_BODY:  # never terminated: reading it all would hang
                sent += len(block)
                yield b"%x\r\n%s\r\n" % (len(block), block)

        chunked = head.replace(b"Content-Length: %d" % (MAX_BODY + 1), b"Transfer-Encoding: chunked")
        answer = _raw_post(server.url, chunked, chunks())
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < 2 * MAX_BODY
        # a body at the cap is read (and then judged by its signature)
        body = b"{" + b" " * (MAX_BODY - 2) + b"}"
        ok = httpx.post(f"{server.url}/webhooks/github", content=body, headers=headers("issues", body))
        assert ok.status_code == 204
        assert server.ledger.all_jobs() == []
    finally:
        server.stop()


def test_a_whitespace_only_secret_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        app_id="1", private_key=SecretStr("unused"), webhook_secret=SecretStr(" \t\n "), data_dir=tmp_path
    )
    with pytest.raises(ConfigError, match="REPOMIND_WEBHOOK_SECRET is only whitespace"):
        create_app(settings)


def test_the_data_dir_is_created_0700(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    settings = Settings(
        app_id="1", private_key=SecretStr("unused"), webhook_secret=SecretStr(SECRET), data_dir=data
    )
    create_app(settings)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    setup_dir = tmp_path / "setup-data"
    create_app(Settings(data_dir=setup_dir))
    assert stat.S_IMODE(setup_dir.stat().st_mode) == 0o700
