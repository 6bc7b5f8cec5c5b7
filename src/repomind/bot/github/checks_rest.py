"""The checks endpoints of the real client (:class:`repomind.bot.github.client.GithubkitClient` mixes
this in): create, update and list check runs, and read their annotations, as GitHub's REST API has them.

GitHub takes at most 50 annotations per request: the rest go in further updates of the same run. Output
texts pass through :func:`repomind.redact.for_github` and are capped under GitHub's 65,535 characters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from githubkit import GitHub as GithubkitGitHub

from repomind.bot.github.protocol import CheckAnnotation, CheckOutput, CheckRun
from repomind.redact import for_github

#: Annotations GitHub accepts in one create or update request.
ANNOTATIONS_PER_REQUEST = 50
PER_PAGE = 100


def output_json(output: CheckOutput, annotations: tuple[CheckAnnotation, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {"title": for_github(output.title)[:1000], "summary": for_github(output.summary)}
    if output.text:
        data["text"] = for_github(output.text)
    if annotations:
        data["annotations"] = [
            {
                "path": a.path,
                "start_line": a.start_line,
                "end_line": a.end_line,
                "annotation_level": a.level,
                "message": for_github(a.message)[:64000],
                **({"title": for_github(a.title)[:255]} if a.title else {}),
            }
            for a in annotations
        ]
    return data


def annotation_of(data: dict[str, Any]) -> CheckAnnotation:
    return CheckAnnotation(
        path=str(data.get("path") or ""),
        start_line=int(data.get("start_line") or 0),
        end_line=int(data.get("end_line") or data.get("start_line") or 0),
        level=str(data.get("annotation_level") or "notice"),
        message=str(data.get("message") or ""),
        title=str(data.get("title") or ""),
    )


def _split(repo: str) -> tuple[str, str]:
    owner, _, name = repo.partition("/")
    return owner, name


class ChecksMixin:
    """The checks part of :class:`repomind.bot.github.protocol.GitHub` over githubkit."""

    def _json(self, what: str, call: Callable[[GithubkitGitHub[Any]], Any]) -> Any:
        raise NotImplementedError  # pragma: no cover - the client's own

    def _pages(
        self,
        what: str,
        call: Callable[[GithubkitGitHub[Any], int], Any],
        items: Callable[[Any], list[Any]] = list,
    ) -> list[Any]:
        raise NotImplementedError  # pragma: no cover - the client's own

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
        first = output.annotations[:ANNOTATIONS_PER_REQUEST] if output else ()
        data: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": status}
        data.update({k: v for k, v in (("external_id", external_id), ("details_url", details_url)) if v})
        if conclusion is not None:
            data["conclusion"] = conclusion
        if output is not None:
            data["output"] = output_json(output, first)
        created = CheckRun.from_rest(
            self._json(
                f"POST check run {name}",
                lambda gh: gh.rest.checks.create(*_split(repo), data=cast(Any, data)),
            )
        )
        if output is not None and len(output.annotations) > len(first):
            self._more_annotations(repo, created.id, output, start=len(first))
        return created

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        output: CheckOutput | None = None,
    ) -> None:
        first = output.annotations[:ANNOTATIONS_PER_REQUEST] if output else ()
        data: dict[str, Any] = {k: v for k, v in (("status", status), ("conclusion", conclusion)) if v}
        if output is not None:
            data["output"] = output_json(output, first)
        self._json(
            f"PATCH check run {check_run_id}",
            lambda gh: gh.rest.checks.update(*_split(repo), check_run_id, data=cast(Any, data)),
        )
        if output is not None and len(output.annotations) > len(first):
            self._more_annotations(repo, check_run_id, output, start=len(first))

    def _more_annotations(self, repo: str, check_run_id: int, output: CheckOutput, *, start: int) -> None:
        for at in range(start, len(output.annotations), ANNOTATIONS_PER_REQUEST):
            batch = output.annotations[at : at + ANNOTATIONS_PER_REQUEST]
            data = {"output": output_json(CheckOutput(output.title, output.summary), batch)}
            self._json(
                f"PATCH check run {check_run_id} annotations",
                lambda gh, d=data: gh.rest.checks.update(*_split(repo), check_run_id, data=cast(Any, d)),  # type: ignore[misc]
            )

    def list_check_runs(self, repo: str, ref: str) -> list[CheckRun]:
        runs = self._pages(
            f"GET check runs of {ref}",
            lambda gh, p: gh.rest.checks.list_for_ref(*_split(repo), ref, per_page=PER_PAGE, page=p),
            lambda data: list(data.get("check_runs") or []),
        )
        return [CheckRun.from_rest(r) for r in runs]

    def list_check_annotations(self, repo: str, check_run_id: int) -> list[CheckAnnotation]:
        found = self._pages(
            f"GET annotations of check run {check_run_id}",
            lambda gh, p: gh.rest.checks.list_annotations(
                *_split(repo), check_run_id, per_page=PER_PAGE, page=p
            ),
        )
        return [annotation_of(a) for a in found]
