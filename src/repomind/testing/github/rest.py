"""The stand-in GitHub's REST endpoints (the ones the bot uses), with bodies shaped like GitHub's own
examples (:func:`repomind.testing.github.state.shaped`) over the in-memory :class:`GitHubState`."""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from repomind.bot.github.protocol import GitHubError
from repomind.testing.github.checks import add_check_routes
from repomind.testing.github.oauth import add_oauth_routes
from repomind.testing.github.state import GitHubState, IssueState, RateLimitFault, shaped


def _user(login: str, user_type: str = "User") -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**7, "type": user_type}


_REPO_PATH = re.compile(r"/repos/[^/]+/[^/]+")
#: Asked as the app (its JWT), not as an installation.
_APP_PATHS = re.compile(r"/app/.*|/repos/[^/]+/[^/]+/installation")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message, "documentation_url": "https://docs.github.com/rest"}, status)


def _rate_limited(fault: RateLimitFault, who: str) -> JSONResponse:
    """A refusal shaped as GitHub's (github/docs, "Rate limits for the REST API")."""
    now = int(time.time())
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-used": "5000" if not fault.secondary else "12",
        "x-ratelimit-remaining": "0" if not fault.secondary else "4988",
        "x-ratelimit-reset": str(now + fault.reset_in),
        "x-ratelimit-resource": "core",
    }
    if fault.retry_after is not None:
        headers["retry-after"] = str(fault.retry_after)
    if fault.secondary:
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
            "If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222."
        )
        docs = (
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
        )
    else:
        message = (
            f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, "
            "please include the request ID 0000:1111:2222."
        )
        docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    return JSONResponse({"message": message, "documentation_url": docs}, fault.status, headers=headers)


def rest_app(
    state: GitHubState,
    *,
    verify_jwt: Callable[[Request], bool],
    manifest_codes: dict[str, dict[str, Any]],
) -> FastAPI:
    """The REST app: ``/app/...`` needs a JWT that ``verify_jwt`` accepts, ``/repos/...`` a valid
    installation token; ``manifest_codes`` are the codes the manifest conversion endpoint accepts."""
    app = FastAPI()

    @app.middleware("http")
    async def auth_and_headers(request: Request, call_next: Callable[..., Any]) -> Response:
        state.requests.append((request.method, request.url.path))
        path = request.url.path
        as_app = _APP_PATHS.fullmatch(path) is not None
        if as_app and not verify_jwt(request):
            return _error(401, "A JSON web token could not be decoded")
        request.state.user = None
        if not as_app and (path.startswith("/repos/") or path == "/user"):
            header = request.headers.get("authorization", "")
            token = header.split(" ", 1)[1] if " " in header else ""
            user = state.user_for(token)
            if user is not None:  # a user-to-server token: only what sign-in uses
                if request.method != "GET" or not (path == "/user" or _REPO_PATH.fullmatch(path)):
                    return _error(403, "Resource not accessible by integration")
                request.state.user = user
            elif path == "/user" or not state.token_valid(token):
                return _error(401, "Bad credentials")
            limited = state.take_rate_limit(request.method, path)
            if limited is not None:
                installation = state.tokens.get(token, (0, None))[0]
                return _rate_limited(limited, f"installation ID {installation}")
            fault = state.take_fault(request.method, path)
            if fault is not None:
                return _error(fault, "Server Error (a fault the test asked for)")
        response: Response = await call_next(request)
        response.headers["x-ratelimit-limit"] = "5000"
        response.headers["x-ratelimit-remaining"] = "4999"
        response.headers["x-ratelimit-reset"] = str(int(time.time()) + 3600)
        response.headers["x-ratelimit-resource"] = "core"
        return response

    @app.exception_handler(GitHubError)
    async def github_error(_request: Request, exc: GitHubError) -> JSONResponse:
        return _error(exc.status or 500, str(exc))

    @app.post("/app/installations/{installation_id}/access_tokens", status_code=201)
    def access_token(installation_id: int) -> dict[str, Any]:
        token = state.issue_token(installation_id)
        return shaped(
            "apps.create-installation-access-token.201",
            token=token.token,
            expires_at=token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    @app.get("/repos/{owner}/{name}/installation", response_model=None)
    def repo_installation(owner: str, name: str) -> dict[str, Any] | JSONResponse:
        installation = state.installation_for(f"{owner}/{name}")
        if installation is None:
            return _error(404, "Not Found")
        return shaped(
            "apps.get-repo-installation.200",
            id=installation,
            account=_user(owner, "Organization"),
            target_type="Organization",
        )

    @app.post("/app-manifests/{code}/conversions", status_code=201, response_model=None)
    def conversion(code: str) -> dict[str, Any] | JSONResponse:
        found = manifest_codes.pop(code, None)
        return found if found is not None else _error(404, "Not Found")

    def repo_json(full: str) -> dict[str, Any]:
        r = state.get_repository(full)
        owner, name = full.split("/")
        return shaped(
            "repos.get.200.default-response",
            id=state.repos[full].id,
            name=name,
            full_name=full,
            owner=_user(owner),
            default_branch=r.default_branch,
            clone_url=r.clone_url,
            html_url=r.html_url,
            private=False,
        )

    def issue_json(full: str, i: IssueState) -> dict[str, Any]:
        data = shaped(
            "issues.get.200",
            number=i.number,
            title=i.title,
            body=i.body,
            user=_user(i.user),
            state=i.state,
            html_url=f"https://github.com/{full}/issues/{i.number}",
            labels=[{"name": x} for x in i.labels],
        )
        if i.pull is None:
            data.pop("pull_request", None)
        return data

    def comment_json(full: str, cid: int) -> dict[str, Any]:
        c = state.comments[cid]
        return shaped(
            "issues.create-comment.201",
            id=c.id,
            body=c.body,
            user=_user(c.user, c.user_type),
            html_url=f"https://github.com/{full}/issues/{c.issue_number}#issuecomment-{c.id}",
        )

    def pull_json(full: str, number: int) -> dict[str, Any]:
        p = state.get_pull(full, number)
        pull = state.repos[full].issues[number].pull
        assert pull is not None
        # Once merged, base.sha stays the commit the pull request was based on, as on GitHub.
        base_sha = (pull.base_before if pull.merged else None) or state.branch_sha(full, p.base_ref) or ""
        head_owner, _, head_name = p.head_repo.partition("/")
        head_repo = {"id": abs(hash(p.head_repo)) % 10**7, "name": head_name, "full_name": p.head_repo}
        head_repo["owner"] = _user(head_owner)
        return shaped(
            "pulls.get.200",
            number=p.number,
            title=p.title,
            body=p.body,
            user=_user(p.author, "Bot" if p.author == state.app_login else "User"),
            state=p.state,
            draft=p.draft,
            merged=p.merged,
            html_url=p.html_url,
            head={
                "ref": p.head_ref,
                "sha": p.head_sha,
                "label": f"{head_owner}:{p.head_ref}",
                "repo": head_repo,
            },
            base={"ref": p.base_ref, "sha": base_sha},
            merged_at=pull.merged_at,
            merge_commit_sha=pull.merge_commit_sha,
        )

    def page(items: list[Any], request: Request) -> list[Any]:
        per_page = int(request.query_params.get("per_page", 30))
        number = int(request.query_params.get("page", 1))
        return items[(number - 1) * per_page : number * per_page]

    @app.get("/repos/{owner}/{name}", response_model=None)
    def get_repo(owner: str, name: str, request: Request) -> dict[str, Any] | JSONResponse:
        user = request.state.user
        if user is not None and not state.user_can_read(user, f"{owner}/{name}"):
            return _error(404, "Not Found")  # GitHub hides what a user cannot read
        return repo_json(f"{owner}/{name}")

    @app.get("/repos/{owner}/{name}/collaborators/{user}/permission")
    def permission(owner: str, name: str, user: str) -> dict[str, Any]:
        level = state.get_permission(f"{owner}/{name}", user)
        folded = {"maintain": "write", "triage": "read"}.get(level, level)
        return shaped(
            "repos.get-collaborator-permission-level.200.response-if-user-has-admin-permissions",
            permission=folded,
            role_name=level,
            user=_user(user),
        )

    @app.get("/repos/{owner}/{name}/issues/{number}")
    def get_issue(owner: str, name: str, number: int) -> dict[str, Any]:
        full = f"{owner}/{name}"
        state.get_issue(full, number)
        return issue_json(full, state.repos[full].issues[number])

    @app.post("/repos/{owner}/{name}/issues", status_code=201)
    async def create_issue(owner: str, name: str, request: Request) -> dict[str, Any]:
        full, data = f"{owner}/{name}", await request.json()
        issue = state.create_issue(full, title=data["title"], body=data.get("body") or "")
        return issue_json(full, state.repos[full].issues[issue.number])

    @app.get("/repos/{owner}/{name}/issues/{number}/comments")
    def list_comments(owner: str, name: str, number: int, request: Request) -> list[Any]:
        full = f"{owner}/{name}"
        return page([comment_json(full, c.id) for c in state.list_comments(full, number)], request)

    @app.post("/repos/{owner}/{name}/issues/{number}/comments", status_code=201)
    async def create_comment(owner: str, name: str, number: int, request: Request) -> dict[str, Any]:
        full = f"{owner}/{name}"
        body = (await request.json())["body"]
        return comment_json(full, state.create_comment(full, number, body).id)

    @app.patch("/repos/{owner}/{name}/issues/comments/{cid}")
    async def edit_comment(owner: str, name: str, cid: int, request: Request) -> dict[str, Any]:
        full = f"{owner}/{name}"
        state.edit_comment(full, cid, (await request.json())["body"])
        return comment_json(full, cid)

    async def react(full: str, request: Request, **target: Any) -> JSONResponse:
        content = (await request.json())["content"]
        before = len(state.reactions)
        state.add_reaction(full, content, **target)
        created = len(state.reactions) > before
        example = "reactions.create-for-issue.201"
        return JSONResponse(
            shaped(example, content=content, user=_user(state.app_login, "Bot")), 201 if created else 200
        )

    @app.post("/repos/{owner}/{name}/issues/{number}/reactions", response_model=None)
    async def react_issue(owner: str, name: str, number: int, request: Request) -> JSONResponse:
        state.get_issue(f"{owner}/{name}", number)
        return await react(f"{owner}/{name}", request, issue_number=number)

    @app.post("/repos/{owner}/{name}/issues/comments/{cid}/reactions", response_model=None)
    async def react_comment(owner: str, name: str, cid: int, request: Request) -> JSONResponse:
        if cid not in state.comments:
            return _error(404, "Not Found")
        return await react(f"{owner}/{name}", request, comment_id=cid)

    @app.get("/repos/{owner}/{name}/contents/{path:path}", response_model=None)
    def contents(owner: str, name: str, path: str, ref: str | None = None) -> dict[str, Any] | JSONResponse:
        full = f"{owner}/{name}"
        text = state.get_file(full, path, ref or state.repos[full].default_branch)
        if text is None:
            return _error(404, "Not Found")
        return {
            "type": "file",
            "encoding": "base64",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "size": len(text.encode()),
            "sha": secrets.token_hex(20),
            "content": base64.b64encode(text.encode()).decode(),
        }

    @app.get("/repos/{owner}/{name}/pulls")
    def list_pulls(
        owner: str, name: str, request: Request, head: str = "", state_: str = "open"
    ) -> list[Any]:
        full = f"{owner}/{name}"
        wanted = request.query_params.get("state", "open")
        pulls = (
            state.list_pulls(full, head=head, state=wanted)
            if head
            else [state.get_pull(full, i.number) for i in state.pulls(full) if wanted in ("all", i.state)]
        )
        if request.query_params.get("direction", "desc") == "desc":  # GitHub's default: newest first
            pulls = sorted(pulls, key=lambda p: -p.number)
        return page([pull_json(full, p.number) for p in pulls], request)

    @app.post("/repos/{owner}/{name}/pulls", status_code=201)
    async def create_pull(owner: str, name: str, request: Request) -> dict[str, Any]:
        full = f"{owner}/{name}"
        data = await request.json()
        p = state.create_pull(
            full,
            title=data["title"],
            head=data["head"],
            base=data["base"],
            body=data.get("body", ""),
            draft=bool(data.get("draft", False)),
        )
        return pull_json(full, p.number)

    @app.get("/repos/{owner}/{name}/pulls/{number}", response_model=None)
    def get_pull(owner: str, name: str, number: int, request: Request) -> dict[str, Any] | Response:
        full = f"{owner}/{name}"
        if "diff" in request.headers.get("accept", ""):
            return PlainTextResponse(state.get_pull_diff(full, number))
        return pull_json(full, number)

    @app.patch("/repos/{owner}/{name}/pulls/{number}")
    async def edit_pull(owner: str, name: str, number: int, request: Request) -> dict[str, Any]:
        full = f"{owner}/{name}"
        data = await request.json()
        state.edit_pull(full, number, title=data.get("title"), body=data.get("body"))
        return pull_json(full, number)

    @app.get("/repos/{owner}/{name}/pulls/{number}/comments")
    def review_comments(owner: str, name: str, number: int, request: Request) -> list[Any]:
        with state.lock:
            rows = list(state.repos[f"{owner}/{name}"].review_comments.get(number, []))
        return page(rows, request)

    add_oauth_routes(app, state)
    add_check_routes(app, state)

    # Control routes for tests and benchmarks in another process: act as a person on GitHub.
    @app.post("/_standin/repos/{owner}/{name}/issues/{number}/comments", status_code=201)
    async def person_comments(owner: str, name: str, number: int, request: Request) -> dict[str, Any]:
        data = await request.json()
        cid = state.comment_as(f"{owner}/{name}", number, data["body"], user=data["user"])
        return {"id": cid}

    return app
