"""The setup page explains what registering does: the address GitHub will call (and whether it can),
whose account the app belongs to, and what each permission and event of ``app.yml`` is for."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from repomind.server.app import create_app
from repomind.settings import Settings

TOKEN = "console-setup-token-0123456789"


def _page(tmp_path: Path, public_url: str | None, **params: str) -> str:
    settings = Settings(data_dir=tmp_path / "data", public_url=public_url)
    base = public_url or "http://localhost:8000"
    client = TestClient(create_app(settings, setup_token=TOKEN), base_url=base)
    page = client.get("/setup", params={"token": TOKEN, **params})
    assert page.status_code == 200, page.text
    return page.text


def test_every_permission_and_event_of_the_manifest_is_explained(tmp_path: Path) -> None:
    text = _page(tmp_path, "https://bot.example")
    app = yaml.safe_load(resources.files("repomind.server").joinpath("app.yml").read_text())
    for name, level in app["default_permissions"].items():
        row = re.search(
            rf'<tr data-permission="{name}"><td>{name}</td><td>{level}</td><td>([^<]+)</td>', text
        )
        assert row and len(row.group(1)) > 20, name
    for event in app["default_events"]:
        item = re.search(rf'<li data-event="{event}"><code>{event}</code>: ([^<]+)</li>', text)
        assert item and len(item.group(1)) > 20, event
    assert "https://bot.example/webhooks/github" in text
    assert 'class="warning"' not in text  # a public https address: nothing to warn about
    assert "your user account" in text and 'name="org"' in text


def test_an_address_github_cannot_reach_is_warned_about(tmp_path: Path) -> None:
    text = _page(tmp_path, None)  # no public URL: the address this page was opened at
    assert "http://localhost:8000/webhooks/github" in text
    assert "only reachable from this machine" in text and "REPOMIND_PUBLIC_URL" in text
    assert "Use https" in text


def test_an_organisation_app_says_whose_it_is(tmp_path: Path) -> None:
    text = _page(tmp_path, "https://bot.example", org="acme")
    assert "organisation <strong>acme</strong>" in text
    assert "/organizations/acme/settings/apps/new?state=" in text
