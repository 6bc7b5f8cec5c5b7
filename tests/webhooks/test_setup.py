"""Setup mode: the manifest flow against the GitHub stand-in, and the stored credentials on next start."""

from __future__ import annotations

import html
import json
import re
import stat
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from repomind.settings import Settings
from repomind.testing_github import shaped
from repomind.testing_server import StandInGitHub
from repomind.webhooks.app import Mode, create_app, mode_for

ROOT = Path(__file__).resolve().parents[2]


def test_the_packaged_manifest_is_app_yml() -> None:
    packaged = ROOT / "src" / "repomind" / "webhooks" / "app.yml"
    assert yaml.safe_load(packaged.read_text()) == yaml.safe_load((ROOT / "app.yml").read_text())


def test_manifest_flow_stores_credentials_0600_and_the_next_start_uses_them(tmp_path: Path) -> None:
    with StandInGitHub(tmp_path / "gh") as github:
        settings = Settings(
            data_dir=tmp_path / "data", github_api_url=github.url, public_url="https://bot.example"
        )
        client = TestClient(create_app(settings))
        page = client.get("/setup", params={"org": "acme"})
        assert page.status_code == 200
        action = re.search(r'action="([^"]+)"', page.text)
        value = re.search(r'name="manifest" value="([^"]+)"', page.text)
        assert action and value
        assert action.group(1).startswith("https://github.com/organizations/acme/settings/apps/new?state=")
        state = html.unescape(action.group(1)).split("state=")[1]
        manifest = json.loads(html.unescape(value.group(1)))
        assert manifest["hook_attributes"]["url"] == "https://bot.example/webhooks/github"
        assert manifest["redirect_url"] == "https://bot.example/setup/callback"
        assert set(manifest["default_events"]) >= {"issues", "issue_comment", "pull_request"}

        # GitHub's own example conversion (with a real key so the next start can use it)
        conversion = shaped(
            "apps.create-from-manifest.201", id=31337, slug="repomind-acme", pem=github.private_key
        )
        github.offer_manifest_code("a180b1a3d263c81bc6441d7b990bae27d4c10679", conversion)
        bad = client.get(
            "/setup/callback", params={"code": "a180b1a3d263c81bc6441d7b990bae27d4c10679", "state": "x"}
        )
        assert bad.status_code == 400 and not settings.credentials_file.exists()
        done = client.get(
            "/setup/callback", params={"code": "a180b1a3d263c81bc6441d7b990bae27d4c10679", "state": state}
        )
        assert done.status_code == 200 and "installations/new" in done.text
        assert (
            "POST",
            "/app-manifests/a180b1a3d263c81bc6441d7b990bae27d4c10679/conversions",
        ) in github.state.requests
        again = client.get(
            "/setup/callback", params={"code": "a180b1a3d263c81bc6441d7b990bae27d4c10679", "state": state}
        )
        assert again.status_code == 400  # a state is good once

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
    assert mode_for(restarted) is Mode.READY
    assert TestClient(create_app(restarted)).get("/healthz").json()["mode"] == "ready"


def test_an_expired_code_is_a_clear_failure(tmp_path: Path) -> None:
    with StandInGitHub(tmp_path / "gh") as github:
        settings = Settings(data_dir=tmp_path / "data", github_api_url=github.url)
        client = TestClient(create_app(settings))
        page = client.get("/setup")
        state = html.unescape(re.search(r"state=([^\"]+)\"", page.text).group(1))  # type: ignore[union-attr]
        resp = client.get("/setup/callback", params={"code": "expired", "state": state})
    assert resp.status_code == 502 and "refused the code (404)" in resp.text
    assert not settings.credentials_file.exists()
