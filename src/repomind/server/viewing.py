"""What a viewer of the dashboard may see: the repositories they can read (the operator: all of them)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import HTTPException, Request

from repomind.server.oauth import OAuthError
from repomind.server.signin import Access, Viewer


def viewer_of(request: Request) -> Viewer:
    viewer: Viewer = request.state.viewer  # set by the sign-in guard for every non-public path
    return viewer


def readable(access: Access, viewer: Viewer, repos: Iterable[str]) -> set[str]:
    """The repositories of ``repos`` that ``viewer`` can read; 503 when GitHub cannot say."""
    try:
        return {repo for repo in set(repos) if access.can_read(viewer, repo)}
    except OAuthError as exc:
        raise HTTPException(503, f"cannot check your access with GitHub: {exc}") from None
