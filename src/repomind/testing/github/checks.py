"""Check runs in the stand-in GitHub: :class:`CheckRunsState` (mixed into
:class:`repomind.testing.github.state.GitHubState`) keeps them in GitHub's REST shape (over GitHub's own
example, ``data/checks.create.201.json``), and :func:`add_check_routes` serves the endpoints
``POST /repos/{o}/{r}/check-runs``, ``PATCH .../check-runs/{id}``, ``GET .../check-runs/{id}/annotations``
and ``GET /repos/{o}/{r}/commits/{ref}/check-runs``. A test plays CI with
:meth:`CheckRunsState.add_check_run`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request

from repomind.bot.github.protocol import CheckAnnotation, CheckOutput, CheckRun, GitHubError

#: Annotations GitHub takes in one request; more is a 422.
ANNOTATIONS_PER_REQUEST = 50
STATUSES = ("queued", "in_progress", "completed")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _annotation_json(a: CheckAnnotation) -> dict[str, Any]:
    return {
        "path": a.path,
        "start_line": a.start_line,
        "end_line": a.end_line,
        "start_column": None,
        "end_column": None,
        "annotation_level": a.level,
        "title": a.title or None,
        "message": a.message,
        "raw_details": None,
        "blob_href": "",
    }


def _annotation(data: dict[str, Any]) -> CheckAnnotation:
    return CheckAnnotation(
        data["path"],
        data["start_line"],
        data["end_line"],
        data["annotation_level"],
        data["message"],
        data.get("title") or "",
    )


class CheckRunsState:
    """Check runs by id, each as GitHub's REST API returns it, with its annotations beside it."""

    lock: threading.RLock
    app_login: str
    #: Check runs by id (GitHub's shape plus ``_repo`` and ``history``) and their annotations.
    _check_runs: dict[int, dict[str, Any]]
    _annotations: dict[int, list[dict[str, Any]]]

    def _next_id(self) -> int:
        raise NotImplementedError  # pragma: no cover - the state's own

    def _repo_exists(self, repo: str) -> None:
        raise NotImplementedError  # pragma: no cover - the state's own

    def branch_sha(self, repo: str, branch: str) -> str | None:
        raise NotImplementedError  # pragma: no cover - the state's own

    def _check_store(self) -> dict[int, dict[str, Any]]:
        return self._check_runs

    def _check_annotations(self) -> dict[int, list[dict[str, Any]]]:
        return self._annotations

    # -- set-up and queries for tests -------------------------------------------------------------
    def add_check_run(
        self,
        repo: str,
        head_sha: str,
        *,
        name: str,
        conclusion: str,
        output: CheckOutput,
        app_slug: str = "github-actions",
    ) -> CheckRun:
        """A completed check run another app (CI) made; the bot reads it as it would on GitHub."""
        return self._create(repo, name, head_sha, "completed", conclusion, output, "", app_slug)

    def check_runs(self, repo: str) -> list[dict[str, Any]]:
        """Every check run on ``repo`` in GitHub's shape, oldest first, with ``annotations`` and
        ``history`` (each earlier ``(status, conclusion)``) added for tests."""
        with self.lock:
            return [
                {**r, "annotations": list(self._check_annotations().get(r["id"], []))}
                for r in self._check_store().values()
                if r["_repo"] == repo
            ]

    # -- the GitHub protocol's checks operations ---------------------------------------------------
    def create_check_run(
        self,
        repo: str,
        *,
        name: str,
        head_sha: str,
        status: str,
        external_id: str = "",
        details_url: str | None = None,
        conclusion: str | None = None,
        output: CheckOutput | None = None,
    ) -> CheckRun:
        slug = self.app_login.removesuffix("[bot]")
        return self._create(repo, name, head_sha, status, conclusion, output, external_id, slug, details_url)

    def _create(
        self,
        repo: str,
        name: str,
        head_sha: str,
        status: str,
        conclusion: str | None,
        output: CheckOutput | None,
        external_id: str,
        app_slug: str,
        details_url: str | None = None,
    ) -> CheckRun:
        from repomind.testing.github.state import shaped

        self._repo_exists(repo)
        _validate(status, conclusion, output)
        with self.lock:
            cid = self._next_id()
            suite = next(
                (
                    r["check_suite"]["id"]
                    for r in self._check_store().values()
                    if r["_repo"] == repo and r["head_sha"] == head_sha and r["app"]["slug"] == app_slug
                ),
                self._next_id(),
            )
            data = shaped(
                "checks.create.201",
                id=cid,
                name=name,
                head_sha=head_sha,
                external_id=external_id,
                details_url=details_url,
                url=f"https://api.github.com/repos/{repo}/check-runs/{cid}",
                html_url=f"https://github.com/{repo}/runs/{cid}",
                status=status,
                conclusion=conclusion if status == "completed" else None,
                started_at=_now(),
                completed_at=_now() if status == "completed" else None,
                output={"title": None, "summary": None, "text": None, "annotations_count": 0},
                check_suite={"id": suite},
                app={"slug": app_slug, "name": app_slug},
                pull_requests=[],
                _repo=repo,
                history=[],
            )
            data["output"]["annotations_url"] = (
                f"https://api.github.com/repos/{repo}/check-runs/{cid}/annotations"
            )
            self._check_store()[cid] = data
            self._set_output(cid, output)
            return CheckRun.from_rest(data)

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        output: CheckOutput | None = None,
    ) -> None:
        with self.lock:
            data = self._check_store().get(check_run_id)
            if data is None or data["_repo"] != repo:
                raise GitHubError("Not Found", 404)
            if conclusion is not None and status is None:
                status = "completed"  # as GitHub: a conclusion completes the run
            _validate(status or data["status"], conclusion or data["conclusion"], output)
            data["history"].append((data["status"], data["conclusion"]))
            if status is not None:
                data["status"] = status
                data["completed_at"] = _now() if status == "completed" else None
            if conclusion is not None:
                data["conclusion"] = conclusion
            self._set_output(check_run_id, output)

    def _set_output(self, cid: int, output: CheckOutput | None) -> None:
        if output is None:
            return
        data = self._check_store()[cid]
        data["output"].update(title=output.title, summary=output.summary, text=output.text or None)
        notes = self._check_annotations().setdefault(cid, [])
        notes.extend(_annotation_json(a) for a in output.annotations)
        data["output"]["annotations_count"] = len(notes)

    def list_check_runs(self, repo: str, ref: str) -> list[CheckRun]:
        return [CheckRun.from_rest(r) for r in self._runs_for(repo, ref)]

    def _runs_for(self, repo: str, ref: str) -> Iterator[dict[str, Any]]:
        self._repo_exists(repo)
        sha = ref
        if len(ref) != 40:
            sha = self.branch_sha(repo, ref) or ref
        with self.lock:
            rows = [r for r in self._check_store().values() if r["_repo"] == repo and r["head_sha"] == sha]
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:  # ``filter=latest``: the newest run of each name per app
            latest[(r["app"]["slug"], r["name"])] = r
        yield from sorted(latest.values(), key=lambda r: -int(r["id"]))

    def list_check_annotations(self, repo: str, check_run_id: int) -> list[CheckAnnotation]:
        with self.lock:
            data = self._check_store().get(check_run_id)
            if data is None or data["_repo"] != repo:
                raise GitHubError("Not Found", 404)
            return [_annotation(a) for a in self._check_annotations().get(check_run_id, [])]

    def check_run_json(self, check_run_id: int) -> dict[str, Any]:
        with self.lock:
            data = self._check_store()[check_run_id]
            return {k: v for k, v in data.items() if not k.startswith("_") and k != "history"}

    def check_annotations_json(self, check_run_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._check_annotations().get(check_run_id, []))


def _validate(status: str, conclusion: str | None, output: CheckOutput | None) -> None:
    """What GitHub answers 422 to."""
    if status not in STATUSES:
        raise GitHubError(f"Validation Failed: status {status!r} is not one of {STATUSES}", 422)
    if status == "completed" and conclusion not in CONCLUSIONS:
        raise GitHubError("Validation Failed: a completed check run needs a conclusion", 422)
    if output is not None:
        if not output.title or not output.summary:
            raise GitHubError("Validation Failed: output needs a title and a summary", 422)
        if len(output.annotations) > ANNOTATIONS_PER_REQUEST:
            raise GitHubError("Validation Failed: at most 50 annotations per request", 422)
        for a in output.annotations:
            if (
                a.level not in ("notice", "warning", "failure")
                or a.start_line < 1
                or a.end_line < a.start_line
            ):
                raise GitHubError(f"Validation Failed: bad annotation {a}", 422)


def _output(data: dict[str, Any] | None) -> CheckOutput | None:
    if data is None:
        return None
    return CheckOutput(
        str(data.get("title") or ""),
        str(data.get("summary") or ""),
        str(data.get("text") or ""),
        tuple(_annotation(a) for a in data.get("annotations") or []),
    )


def add_check_routes(app: FastAPI, state: Any) -> None:
    """The checks endpoints over ``state`` (a :class:`GitHubState`)."""

    def page(items: list[Any], request: Request) -> list[Any]:
        per_page = int(request.query_params.get("per_page", 30))
        number = int(request.query_params.get("page", 1))
        return items[(number - 1) * per_page : number * per_page]

    @app.post("/repos/{owner}/{name}/check-runs", status_code=201)
    async def create(owner: str, name: str, request: Request) -> dict[str, Any]:
        data = await request.json()
        made = state.create_check_run(
            f"{owner}/{name}",
            name=data["name"],
            head_sha=data["head_sha"],
            status=data.get("status", "queued"),
            external_id=data.get("external_id", ""),
            details_url=data.get("details_url"),
            conclusion=data.get("conclusion"),
            output=_output(data.get("output")),
        )
        result: dict[str, Any] = state.check_run_json(made.id)
        return result

    @app.patch("/repos/{owner}/{name}/check-runs/{check_run_id}")
    async def update(owner: str, name: str, check_run_id: int, request: Request) -> dict[str, Any]:
        data = await request.json()
        state.update_check_run(
            f"{owner}/{name}",
            check_run_id,
            status=data.get("status"),
            conclusion=data.get("conclusion"),
            output=_output(data.get("output")),
        )
        result: dict[str, Any] = state.check_run_json(check_run_id)
        return result

    @app.get("/repos/{owner}/{name}/check-runs/{check_run_id}/annotations")
    def annotations(owner: str, name: str, check_run_id: int, request: Request) -> list[Any]:
        state.list_check_annotations(f"{owner}/{name}", check_run_id)  # 404 for another repository's
        return page(state.check_annotations_json(check_run_id), request)

    @app.get("/repos/{owner}/{name}/commits/{ref}/check-runs")
    def for_ref(owner: str, name: str, ref: str, request: Request) -> dict[str, Any]:
        runs = [state.check_run_json(r.id) for r in state.list_check_runs(f"{owner}/{name}", ref)]
        return {"total_count": len(runs), "check_runs": page(runs, request)}
