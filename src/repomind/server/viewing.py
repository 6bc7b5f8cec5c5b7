"""What a viewer of the dashboard may see: the repositories they can read (the operator: all of them)."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from fastapi import HTTPException, Request

from repomind.server.oauth import OAuthError
from repomind.server.signin import Access, Viewer


def viewer_of(request: Request) -> Viewer:
    viewer: Viewer = request.state.viewer  # set by the sign-in guard for every non-public path
    return viewer


#: GitHub calls at once when a person's first visit checks many repositories (each answer is then
#: cached for the session, :data:`repomind.server.signin.ACCESS_CACHE_S`).
CHECKS_AT_ONCE = 8


def readable(access: Access, viewer: Viewer, repos: Iterable[str]) -> set[str]:
    """The repositories of ``repos`` that ``viewer`` can read; 503 when GitHub cannot say."""
    wanted = sorted(set(repos))
    try:
        if viewer.operator or len(wanted) < 2:
            return {repo for repo in wanted if access.can_read(viewer, repo)}
        with ThreadPoolExecutor(min(CHECKS_AT_ONCE, len(wanted)), thread_name_prefix="can-read") as pool:
            answers = list(pool.map(lambda repo: access.can_read(viewer, repo), wanted))
        return {repo for repo, ok in zip(wanted, answers, strict=True) if ok}
    except OAuthError as exc:
        raise HTTPException(503, f"cannot check your access with GitHub: {exc}") from None
