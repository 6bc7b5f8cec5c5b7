"""An issue by its web URL, for ``repomind solve --issue URL``: read through the REST API with githubkit.

Any host is accepted, and the API is the URL's own host's: ``https://api.github.com`` for github.com,
``https://HOST/api/v3`` for GitHub Enterprise (or ``REPOMIND_GITHUB_API_URL`` when it is on the same host).
Public issues need no token; ``GITHUB_TOKEN`` (or ``REPOMIND_GITHUB_TOKEN``) reads private ones, and is
sent only to the configured API, never to another host that a URL names.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from repomind.bot.github.protocol import GitHubError, Issue
from repomind.errors import UsageError

_URL = re.compile(
    r"^https?://[^/\s]+/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)/(?:issues|pull)/(?P<number>\d+)/?(?:[?#]\S*)?$"
)


def parse_issue_url(url: str) -> tuple[str, int]:
    """``https://HOST/OWNER/REPO/issues/N`` → (``OWNER/REPO``, N)."""
    match = _URL.match(url.strip())
    if match is None:
        raise UsageError(f"--issue {url!r} is not an issue URL like https://github.com/OWNER/REPO/issues/N")
    return f"{match['owner']}/{match['name']}", int(match["number"])


def api_url_for(url: str, configured: str, web_url: str | None = None) -> str:
    """The REST API of the host that ``url`` is on: ``configured`` when it is on that host, or when the
    URL is on the configured web host ``web_url`` (``REPOMIND_GITHUB_WEB_URL``: the configured API serves
    it); else github.com's API for github.com and ``https://HOST/api/v3`` (GitHub Enterprise) for any
    other."""
    parts, conf = urlsplit(url.strip()), urlsplit(configured)
    host = parts.netloc.lower()
    if web_url is not None and host == urlsplit(web_url).netloc.lower():
        return configured
    if host in ("github.com", "www.github.com"):
        return configured if conf.netloc.lower() == "api.github.com" else "https://api.github.com"
    if conf.netloc.lower() == host:
        return configured
    return f"{parts.scheme or 'https'}://{parts.netloc}/api/v3"


def fetch_issue(
    url: str, *, api_url: str, token: str | None = None, web_url: str | None = None
) -> tuple[str, Issue]:
    """The repository and the issue that ``url`` names, read from its own host's API (``api_url`` is the
    configured one, serving the web host ``web_url``; the token goes only there); a GitHubError says why
    when it cannot be read."""
    from githubkit import GitHub, TokenAuthStrategy, UnauthAuthStrategy
    from githubkit.exception import GitHubException, RequestFailed

    repo, number = parse_issue_url(url)
    own_api = api_url_for(url, api_url, web_url)
    if own_api.rstrip("/") != api_url.rstrip("/"):
        token = None  # a token for the configured API is never sent to a host the URL chose
    api_url = own_api
    owner, name = repo.split("/")
    auth: Any = TokenAuthStrategy(token) if token else UnauthAuthStrategy()
    try:
        with GitHub(auth, base_url=api_url) as gh:
            data = gh.rest.issues.get(owner, name, number).json()
    except RequestFailed as exc:
        status = exc.response.status_code
        hint = " (private repositories need GITHUB_TOKEN)" if status in (401, 403, 404) and not token else ""
        raise GitHubError(f"GitHub answered {status} for issue {repo}#{number}{hint}", status) from None
    except GitHubException as exc:
        raise GitHubError(f"cannot reach GitHub at {api_url} for issue {repo}#{number}: {exc}") from None
    issue = Issue.from_rest(data)
    return repo, issue
