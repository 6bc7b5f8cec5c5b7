"""The sign-in fixture of the server's tests: the stand-in GitHub with acme/calc (alice maintains it,
mallory reads it) and acme/secret (alice only), the app's OAuth client, the operator token, and a browser
that signs in through the app's OAuth flow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import SecretStr

from repomind.settings import Settings
from repomind.testing import StandInGitHub, make_git_repo
from tests.bot.helpers import Server, settings_for

CLIENT_ID = "Iv1.8a61f9b3a7aba766"
CLIENT_SECRET = "1234567890abcdef1234567890abcdef12345678"
OPERATOR = "operator-token-0123456789"


@contextmanager
def acme_github(tmp_path: Path) -> Iterator[StandInGitHub]:
    """The stand-in GitHub with the two repositories, their readers and the app's OAuth client."""
    with StandInGitHub(tmp_path / "github") as gh:
        gh.add_repo("acme/calc", make_git_repo(tmp_path / "calc", {"calc.py": "x = 1\n"}))
        gh.add_repo("acme/secret", make_git_repo(tmp_path / "secret", {"s.py": "y = 2\n"}))
        gh.state.set_permission("acme/calc", "alice", "maintain")
        gh.state.set_permission("acme/calc", "mallory", "read")
        gh.state.set_permission("acme/secret", "alice", "admin")
        gh.state.register_oauth_client(CLIENT_ID, CLIENT_SECRET)
        yield gh


def signin_settings(github: StandInGitHub, tmp_path: Path, **over: Any) -> Settings:
    """The bot's test settings with sign-in through the stand-in's OAuth and the operator token."""
    return settings_for(
        github,
        tmp_path / "data",
        github_web_url=github.url,
        oauth_client_id=CLIENT_ID,
        oauth_client_secret=SecretStr(CLIENT_SECRET),
        operator_token=SecretStr(OPERATOR),
        **over,
    )


def sign_in(
    server: Server, github: StandInGitHub, login: str, *, next_page: str = "/runs/1", lands: str | None = None
) -> httpx.Client:
    """A browser that signs in as ``login`` through the app's OAuth on the stand-in GitHub."""
    github.state.signed_in_as = login
    browser = httpx.Client(base_url=server.url)
    start = browser.get("/login", params={"next": next_page})
    assert start.status_code == 303
    authorize = httpx.URL(start.headers["location"])
    assert str(authorize).startswith(f"{github.url}/login/oauth/authorize?")
    query = parse_qs(authorize.query.decode())
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://repomind.test/login/callback"]  # the public URL
    approved = httpx.get(authorize)
    assert approved.status_code == 302
    back = urlsplit(approved.headers["location"])
    assert back.path == "/login/callback"
    done = browser.get(f"{back.path}?{back.query}")  # the public URL's host is this server
    assert done.status_code == 303 and done.headers["location"] == (lands or next_page), done.text
    return browser
