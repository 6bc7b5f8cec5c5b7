"""`solve --issue URL` reads the issue from the URL's own host (GitHub Enterprise: HOST/api/v3), and the
configured token never goes to a host that the URL chose."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from repomind.bot.commands.issue_url import api_url_for, fetch_issue

ISSUE = {"number": 1, "title": "GHE issue", "body": "on the enterprise host", "user": {"login": "ada"}}


@pytest.fixture
def enterprise() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A GitHub Enterprise host on loopback that answers ``GET /api/v3/repos/o/r/issues/1`` only."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
            ok = self.path.split("?")[0] == "/api/v3/repos/o/r/issues/1"
            body = json.dumps(ISSUE if ok else {"message": "Not Found"}).encode()
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_the_api_is_the_urls_own_host() -> None:
    public = "https://api.github.com"
    assert api_url_for("https://github.com/o/r/issues/1", public) == public
    assert api_url_for("https://ghe.example.com/o/r/issues/1", public) == "https://ghe.example.com/api/v3"
    ghe = "https://ghe.example.com/api/v3"
    assert api_url_for("https://ghe.example.com/o/r/issues/1", ghe) == ghe
    # Configured for an Enterprise host, an issue on github.com is still read from github.com.
    assert api_url_for("https://github.com/o/r/issues/1", ghe) == public
    # An API configured to serve a web host (REPOMIND_GITHUB_WEB_URL) serves that host's issue URLs.
    proxy = "http://127.0.0.1:9/api"
    assert api_url_for("https://github.com/o/r/issues/1", proxy, "https://github.com") == proxy
    assert api_url_for("https://ghe.example.com/o/r/issues/1", proxy, "https://github.com") == (
        "https://ghe.example.com/api/v3"
    )


def test_an_enterprise_issue_is_read_from_its_host_without_the_configured_token(
    enterprise: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = enterprise
    repo, issue = fetch_issue(
        f"{url}/o/r/issues/1", api_url="https://api.github.com", token="ghp_" + "x" * 36
    )
    assert repo == "o/r" and issue.title == "GHE issue" and issue.author == "ada"
    assert [s["path"] for s in seen] == ["/api/v3/repos/o/r/issues/1"]
    assert seen[0]["authorization"] is None  # the github.com token stayed home


def test_the_token_goes_to_the_configured_host(enterprise: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = enterprise
    fetch_issue(f"{url}/o/r/issues/1", api_url=f"{url}/api/v3", token="ghp_" + "y" * 36)
    assert seen[-1]["authorization"] is not None and "ghp_" in seen[-1]["authorization"]
