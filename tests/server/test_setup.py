"""Setup mode: the manifest flow against the GitHub stand-in, and the stored credentials on next start;
only the browser that opened the console's setup URL can finish it, and never over stored credentials."""

from __future__ import annotations

import html
import json
import re
import stat
import time
from importlib import resources
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from repomind.server import setup
from repomind.server.app import Mode, create_app, mode_for
from repomind.server.setup import store_credentials
from repomind.settings import Settings
from repomind.testing.github.server import StandInGitHub
from repomind.testing.github.state import shaped

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "console-setup-token-0123456789"
CODE = "a180b1a3d263c81bc6441d7b990bae27d4c10679"


def open_setup(client: TestClient, **params: str) -> str:
    """Open the console's setup URL in ``client``'s browser; the state its form carries."""
    page = client.get("/setup", params={"token": TOKEN, **params})
    assert page.status_code == 200, page.text  # after the redirect that drops the token from the URL
    assert page.url.path == "/setup" and "token" not in str(page.url)
    action = re.search(r'action="([^"]+)"', page.text)
    assert action
    return html.unescape(action.group(1)).split("state=")[1]


def test_the_manifest_is_one_file_in_the_package() -> None:
    """``app.yml`` lives once, in the package that posts it (no copy at the repository root to drift)."""
    packaged = ROOT / "src" / "repomind" / "server" / "app.yml"
    assert not (ROOT / "app.yml").exists()
    assert resources.files("repomind.server").joinpath("app.yml").read_text() == packaged.read_text()
    root = yaml.safe_load(packaged.read_text())
    # sign-in to the run pages goes through the app's own OAuth; no OAuth is asked for on install
    assert [url.rsplit("/", 2)[-2:] for url in root["callback_urls"]] == [["login", "callback"]]
    assert root["request_oauth_on_install"] is False


def test_manifest_flow_stores_credentials_0600_and_the_next_start_uses_them(tmp_path: Path) -> None:
    with StandInGitHub(tmp_path / "gh") as github:
        settings = Settings(
            data_dir=tmp_path / "data", github_api_url=github.url, public_url="https://bot.example"
        )
        client = TestClient(create_app(settings, setup_token=TOKEN), base_url="https://bot.example")
        page = client.get("/setup", params={"org": "acme", "token": TOKEN})
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer"
        action = re.search(r'action="([^"]+)"', page.text)
        value = re.search(r'name="manifest" value="([^"]+)"', page.text)
        assert action and value
        assert action.group(1).startswith("https://github.com/organizations/acme/settings/apps/new?state=")
        state = html.unescape(action.group(1)).split("state=")[1]
        manifest = json.loads(html.unescape(value.group(1)))
        assert manifest["hook_attributes"]["url"] == "https://bot.example/webhooks/github"
        assert manifest["redirect_url"] == "https://bot.example/setup/callback"
        assert manifest["callback_urls"] == ["https://bot.example/login/callback"]
        assert manifest["request_oauth_on_install"] is False
        assert set(manifest["default_events"]) >= {"issues", "issue_comment", "pull_request"}

        # GitHub's own example conversion (with a real key so the next start can use it)
        conversion = shaped(
            "apps.create-from-manifest.201", id=31337, slug="repomind-acme", pem=github.private_key
        )
        github.offer_manifest_code(CODE, conversion)
        bad = client.get("/setup/callback", params={"code": CODE, "state": "x"})
        assert bad.status_code == 400 and not settings.credentials_file.exists()
        done = client.get("/setup/callback", params={"code": CODE, "state": state})
        assert done.status_code == 200 and "installations/new" in done.text
        assert (
            "POST",
            "/app-manifests/a180b1a3d263c81bc6441d7b990bae27d4c10679/conversions",
        ) in github.state.requests
        again = client.get("/setup/callback", params={"code": CODE, "state": state})
        assert again.status_code == 409  # stored credentials are never replaced

    path = settings.credentials_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["id"] == 31337 and stored["webhook_secret"] == conversion["webhook_secret"]
    assert github.private_key not in done.text

    restarted = Settings(data_dir=tmp_path / "data")
    assert restarted.app_id == "31337" and restarted.app_slug == "repomind-acme"
    assert (
        restarted.private_key is not None and restarted.private_key.get_secret_value() == github.private_key
    )
    # the app's own OAuth client signs people in to the run pages
    assert restarted.oauth_client_id == conversion["client_id"]
    assert restarted.oauth_client_secret is not None
    assert restarted.oauth_client_secret.get_secret_value() == conversion["client_secret"]
    assert mode_for(restarted) is Mode.READY
    assert TestClient(create_app(restarted)).get("/healthz").json()["mode"] == "ready"


def test_an_expired_code_is_a_clear_failure(tmp_path: Path) -> None:
    with StandInGitHub(tmp_path / "gh") as github:
        settings = Settings(data_dir=tmp_path / "data", github_api_url=github.url)
        client = TestClient(create_app(settings, setup_token=TOKEN))
        state = open_setup(client)
        resp = client.get("/setup/callback", params={"code": "expired", "state": state})
    assert resp.status_code == 502 and "refused the code (404)" in resp.text
    assert not settings.credentials_file.exists()


def test_setup_without_the_consoles_token_is_403_and_mints_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    client = TestClient(create_app(settings, setup_token=TOKEN))
    for params in ({}, {"token": "guess"}, {"token": TOKEN[:-1]}, {"org": "acme"}):
        page = client.get("/setup", params=params, follow_redirects=False)
        assert page.status_code == 403 and "state" not in page.text, params
        assert "set-cookie" not in page.headers and "manifest" not in page.text
    # whatever state a visitor makes up, the callback refuses it
    refused = client.get("/setup/callback", params={"code": CODE, "state": "made-up"})
    assert refused.status_code == 400 and not settings.credentials_file.exists()
    # a token is made per start when none is given; it is long and random
    token = create_app(settings).state.setup_token
    assert isinstance(token, str) and len(token) >= 32 and token != create_app(settings).state.setup_token


def test_a_state_minted_for_another_browser_is_refused(tmp_path: Path) -> None:
    with StandInGitHub(tmp_path / "gh") as github:
        settings = Settings(data_dir=tmp_path / "data", github_api_url=github.url)
        app = create_app(settings, setup_token=TOKEN)
        operator, visitor = TestClient(app), TestClient(app)
        state = open_setup(operator)
        github.offer_manifest_code(CODE, shaped("apps.create-from-manifest.201", pem=github.private_key))
        # the operator's state (leaked, or planted) in a browser that has no setup cookie ...
        stolen = visitor.get("/setup/callback", params={"code": CODE, "state": state})
        assert stolen.status_code == 400
        # ... or one that opened the setup URL itself: states are bound to the browser they were made for
        open_setup(visitor)
        foreign = visitor.get("/setup/callback", params={"code": CODE, "state": state})
        assert foreign.status_code == 400 and not settings.credentials_file.exists()
        assert ("POST", f"/app-manifests/{CODE}/conversions") not in github.state.requests
        # the operator's own browser still completes it
        assert operator.get("/setup/callback", params={"code": CODE, "state": state}).status_code == 200
    assert settings.credentials_file.exists()


def test_a_state_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    client = TestClient(create_app(settings, setup_token=TOKEN))
    state = open_setup(client)
    later = time.monotonic() + setup.STATE_S + 1
    monkeypatch.setattr(setup.time, "monotonic", lambda: later)
    expired = client.get("/setup/callback", params={"code": CODE, "state": state})
    assert expired.status_code == 400 and "expired" in expired.text


def test_the_callback_never_replaces_stored_credentials(tmp_path: Path) -> None:
    with StandInGitHub(tmp_path / "gh") as github:
        settings = Settings(data_dir=tmp_path / "data", github_api_url=github.url)
        client = TestClient(create_app(settings, setup_token=TOKEN))
        state = open_setup(client)
        # credentials appear (another browser finished first, or the operator stored them by hand)
        settings.credentials_file.write_text(json.dumps({"id": 1, "pem": "theirs"}))
        github.offer_manifest_code(CODE, shaped("apps.create-from-manifest.201", pem=github.private_key))
        resp = client.get("/setup/callback", params={"code": CODE, "state": state})
        assert resp.status_code == 409 and "never replaced" in resp.text
        assert json.loads(settings.credentials_file.read_text()) == {"id": 1, "pem": "theirs"}
        assert ("POST", f"/app-manifests/{CODE}/conversions") not in github.state.requests
    # and storing refuses to overwrite even when the check above raced
    with pytest.raises(FileExistsError):
        store_credentials(settings.credentials_file, {"id": 2, "pem": "mine"})
    assert json.loads(settings.credentials_file.read_text())["pem"] == "theirs"


def test_metrics_are_not_served_in_setup_mode(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(data_dir=tmp_path / "data"), setup_token=TOKEN))
    assert client.get("/metrics").status_code == 404
    assert client.get("/runs/1").status_code == 404
