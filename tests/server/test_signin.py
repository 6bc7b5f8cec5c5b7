"""Nothing about a run without sign-in: the app's OAuth against the stand-in GitHub, the operator token,
signed cookies, on the real server on loopback."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from repomind.server.app import create_app
from repomind.settings import Settings
from repomind.store.ledger import JobRequest
from repomind.testing import StandInGitHub
from tests.bot.helpers import SECRET, Server, serve, settings_for
from tests.server.acme import CLIENT_ID, CLIENT_SECRET, OPERATOR, acme_github, sign_in, signin_settings


@pytest.fixture
def github(tmp_path: Path) -> Iterator[StandInGitHub]:
    with acme_github(tmp_path) as gh:
        yield gh


@pytest.fixture
def server(github: StandInGitHub, tmp_path: Path) -> Iterator[Server]:
    settings = signin_settings(github, tmp_path)
    running = serve(settings, pipeline=None, worker=False)
    ledger = running.ledger
    calc, _ = ledger.open_job(JobRequest("acme/calc", 1, 1, "label", "fix", requested_by="alice"))
    ledger.update_job(calc.id, error="the calc run's error text")
    ledger.open_job(JobRequest("acme/secret", 3, 2, "label", "fix", requested_by="alice"))
    try:
        yield running
    finally:
        running.stop()


def test_anonymous_requests_learn_nothing_whether_or_not_the_run_exists(server: Server) -> None:
    for path in ("/runs/1", "/runs/2", "/runs/999", "/runs/nope", "/"):
        page = httpx.get(f"{server.url}{path}")
        assert page.status_code == 303, path
        assert page.headers["location"] == "/login?" + httpx.QueryParams({"next": path}).__str__()
        assert "acme" not in page.text
    for path in ("/api/runs/1", "/api/runs/999", "/metrics"):
        refused = httpx.get(f"{server.url}{path}")
        assert refused.status_code == 401, path
        assert "acme" not in refused.text and "repomind_" not in refused.text
    as_json = httpx.get(f"{server.url}/runs/1", headers={"Accept": "application/json"})
    assert as_json.status_code == 401
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_signed_in_person_sees_the_runs_of_repositories_they_can_read(
    server: Server, github: StandInGitHub
) -> None:
    with closing(sign_in(server, github, "mallory")) as browser:
        session = browser.cookies.jar
        [cookie] = [c for c in session if c.name == "repomind_session"]
        assert cookie.has_nonstandard_attr("HttpOnly") and not cookie.secure
        page = browser.get("/runs/1")
        assert page.status_code == 200 and "acme/calc" in page.text
        assert browser.get("/api/runs/1").json()["repository"] == "acme/calc"
        # a run of a repository mallory cannot read looks like one that does not exist
        hidden, missing = browser.get("/runs/2"), browser.get("/runs/999")
        assert hidden.status_code == missing.status_code == 404
        assert "acme/secret" not in hidden.text
        assert browser.get("/api/runs/2").status_code == 404
        assert browser.get("/metrics").status_code == 403  # metrics span every repository
    # GitHub was asked with mallory's own token, not the app's
    assert ("GET", "/repos/acme/secret") in github.state.requests
    assert ("POST", "/login/oauth/access_token") in github.state.requests

    with closing(sign_in(server, github, "alice", next_page="/runs/2")) as browser:
        assert "acme/secret" in browser.get("/runs/2").text


def test_a_stranger_signed_in_sees_no_run(server: Server, github: StandInGitHub) -> None:
    with closing(sign_in(server, github, "eve")) as browser:
        assert browser.get("/runs/1").status_code == 404
        assert browser.get("/runs/2").status_code == 404
        assert "the calc run's error text" not in browser.get("/runs/1").text


def test_a_sign_in_started_in_another_browser_is_refused(server: Server, github: StandInGitHub) -> None:
    github.state.signed_in_as = "alice"
    victim = httpx.Client(base_url=server.url)
    attacker = httpx.Client(base_url=server.url)
    started = attacker.get("/login")
    approved = httpx.get(started.headers["location"])
    back = urlsplit(approved.headers["location"])
    # the attacker's callback URL (their code and state), opened in the victim's browser
    victim.get("/login")
    refused = victim.get(f"{back.path}?{back.query}")
    assert refused.status_code == 400 and "another browser" in refused.text
    assert "repomind_session" not in victim.cookies
    # and no state at all
    bare = httpx.get(f"{server.url}/login/callback", params={"code": "x", "state": "y"})
    assert bare.status_code == 400 and "set-cookie" not in bare.headers
    victim.close()
    attacker.close()


def test_forged_or_foreign_session_cookies_are_anonymous(server: Server, github: StandInGitHub) -> None:
    with closing(sign_in(server, github, "alice")) as browser:
        value = browser.cookies["repomind_session"]
    payload, mac = value.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    for cookie in (forged, value[:-3] + "xyz", "not-a-cookie"):
        resp = httpx.get(f"{server.url}/runs/1", cookies={"repomind_session": cookie})
        assert resp.status_code == 303
    # a cookie signed by another server's secret is refused too
    other = Settings(data_dir=server.settings.data_dir.parent / "other", session_secret=SecretStr("x" * 32))
    from repomind.server.cookies import cookies_for

    alien = cookies_for(other).sign({"sid": "whatever"}, max_age_s=60)
    assert httpx.get(f"{server.url}/runs/1", cookies={"repomind_session": alien}).status_code == 303


@pytest.mark.parametrize("elsewhere", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_sends_you_off_this_server(
    server: Server, github: StandInGitHub, elsewhere: str
) -> None:
    with closing(sign_in(server, github, "alice", next_page=elsewhere, lands="/")) as browser:
        home = browser.get("/", follow_redirects=True)
        assert home.status_code == 200 and home.url.path == "/runs"
        assert '<span class="who">alice</span>' in home.text


def test_logout_ends_the_session(server: Server, github: StandInGitHub) -> None:
    with closing(sign_in(server, github, "alice")) as browser:
        cookie = browser.cookies["repomind_session"]
        assert browser.post("/logout").status_code == 303
        again = httpx.get(f"{server.url}/runs/1", cookies={"repomind_session": cookie})
        assert again.status_code == 303


def test_the_operator_token_is_for_scripts_and_metrics(server: Server) -> None:
    good = {"Authorization": f"Bearer {OPERATOR}"}
    assert httpx.get(f"{server.url}/runs/2", headers=good).status_code == 200
    assert httpx.get(f"{server.url}/api/runs/1", headers=good).json()["state"] == "queued"
    assert httpx.get(f"{server.url}/api/runs/999", headers=good).status_code == 404
    metrics = httpx.get(f"{server.url}/metrics", headers=good)
    assert metrics.status_code == 200 and "repomind_jobs" in metrics.text
    for wrong in (f"Bearer {OPERATOR}x", f"Bearer {OPERATOR[:-1]}", "Bearer", f"Basic {OPERATOR}"):
        assert httpx.get(f"{server.url}/metrics", headers={"Authorization": wrong}).status_code == 401
        assert httpx.get(f"{server.url}/runs/1", headers={"Authorization": wrong}).status_code == 401


def test_cookies_are_secure_behind_https_and_the_secret_is_generated_0600(
    github: StandInGitHub, tmp_path: Path
) -> None:
    data = tmp_path / "fresh" / "data"
    settings = Settings(
        app_id=github.app_id,
        private_key=SecretStr(github.private_key),
        webhook_secret=SecretStr(SECRET),
        github_api_url=github.url,
        github_web_url=github.url,
        data_dir=data,
        public_url="https://bot.example",
        oauth_client_id=CLIENT_ID,
        oauth_client_secret=SecretStr(CLIENT_SECRET),
    )
    with TestClient(create_app(settings), base_url="https://bot.example") as client:
        start = client.get("/login", follow_redirects=False)
    assert start.status_code == 303
    cookie = start.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    assert "redirect_uri=https%3a%2f%2fbot.example%2flogin%2fcallback" in start.headers["location"].lower()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    secret = settings.session_secret_file
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text()) >= 32
    # the next start signs with the same key; a configured secret writes no file
    configured = tmp_path / "configured"
    create_app(settings.model_copy(update={"data_dir": configured, "session_secret": SecretStr("s" * 32)}))
    assert not (configured / "session-secret").exists()


def test_sign_in_without_an_oauth_client_says_how_to_configure_it(
    github: StandInGitHub, tmp_path: Path
) -> None:
    settings = settings_for(github, tmp_path / "data", operator_token=SecretStr(OPERATOR))
    with TestClient(create_app(settings)) as client:
        login = client.get("/login", follow_redirects=False)
        assert login.status_code == 503 and "REPOMIND_OAUTH_CLIENT_ID" in login.text
        assert client.get("/runs/1", follow_redirects=False).status_code == 303
