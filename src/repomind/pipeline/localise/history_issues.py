"""Calibration data from a repository's own history: issues closed by merged pull requests.

Each merged pull request whose title or body closes an issue of the same repository with one of GitHub's
closing keywords (``fixes #12``, ``closes owner/repo#12``, ``resolves https://github.com/owner/repo/issues/12``)
gives one SWE-bench-format instance: the issue's title and body as the problem statement, the pull
request's base commit, and as the patch its diff without tests, docs and changelogs, since those are not
what the localiser is judged on. Pull requests are read newest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from repomind.pipeline.instance import Instance, file_sections
from repomind.pipeline.localise.gitread import LocaliseError, resolve
from repomind.pipeline.localise.rank import not_source

_CLOSES = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+"
    r"(?:https?://[^\s/]+/(?P<url_repo>[\w.-]+/[\w.-]+)/issues/|(?P<repo>[\w.-]+/[\w.-]+)#|#)(?P<number>\d+)\b",
    re.I,
)
_PROSE = re.compile(r"(\.(md|rst|txt|adoc)$)|(^|/)(changelog|changes|news|history|authors)([./]|$)", re.I)


@dataclass(frozen=True)
class MergedPull:
    number: int
    title: str
    body: str
    #: The commit the pull request was based on (``base.sha``), where the issue was fixed from.
    base_sha: str


@dataclass(frozen=True)
class IssueText:
    number: int
    title: str
    body: str
    is_pull_request: bool = False


class History(Protocol):
    """What is read from GitHub: merged pull requests (newest first), an issue, a pull request's diff."""

    def merged_pulls(self, repo: str) -> Iterator[MergedPull]: ...

    def issue_text(self, repo: str, number: int) -> IssueText: ...

    def get_pull_diff(self, repo: str, number: int) -> str: ...


@dataclass
class Collected:
    instances: list[Instance] = field(default_factory=list)
    #: ``{"pull": N, "reason": ...}`` for each merged pull request that closes an issue but gave no instance.
    skipped: list[dict[str, object]] = field(default_factory=list)
    scanned: int = 0


def closed_issues(text: str, repo: str) -> list[int]:
    """Issue numbers of ``repo`` that ``text`` closes with a closing keyword, in order, once each."""
    numbers = []
    for match in _CLOSES.finditer(text):
        other = match["url_repo"] or match["repo"]
        if other is None or other.lower() == repo.lower():
            numbers.append(int(match["number"]))
    return list(dict.fromkeys(numbers))


def is_fix_target(path: str) -> bool:
    """A file whose change counts as the fix: not a test, doc, example or changelog."""
    return not not_source(path) and _PROSE.search(path) is None


def source_patch(diff: str) -> str:
    """The sections of a unified diff that change fix targets (see :func:`is_fix_target`)."""
    kept = [text for path, text in file_sections(diff) if is_fix_target(path)]
    return "".join(text if text.endswith("\n") else text + "\n" for text in kept)


def _has_commit(git_dir: Path, sha: str) -> bool:
    try:
        return bool(sha) and bool(resolve(git_dir, sha))
    except LocaliseError:
        return False


def collect(
    history: History,
    repo: str,
    git_dir: Path,
    *,
    limit: int = 200,
    scan: int | None = None,
    progress: Callable[[int, int, str], None] = lambda _d, _t, _i: None,
) -> Collected:
    """Up to ``limit`` instances from the newest merged pull requests; at most ``scan`` of them are read
    (default: 10 times ``limit``)."""
    scan = scan if scan is not None else 10 * limit
    found = Collected()
    for pull in history.merged_pulls(repo):
        if found.scanned >= scan or len(found.instances) >= limit:
            break
        found.scanned += 1
        progress(len(found.instances), limit, f"#{pull.number}")
        numbers = closed_issues(f"{pull.title}\n{pull.body}", repo)
        if not numbers:
            continue
        issues = [history.issue_text(repo, n) for n in numbers]
        issues = [i for i in issues if not i.is_pull_request]
        instance_id = f"{repo.replace('/', '__')}-{issues[0].number}" if issues else ""
        reason = ""
        if not issues:
            reason = "closes only pull requests"
        elif any(i.instance_id == instance_id for i in found.instances):
            reason = f"issue #{issues[0].number} was closed by a newer pull request too"
        elif not _has_commit(git_dir, pull.base_sha):
            reason = f"base commit {pull.base_sha[:12]} is not in {git_dir}"
        patch = "" if reason else source_patch(history.get_pull_diff(repo, pull.number))
        if not reason and not patch:
            reason = "changes only tests, docs or changelogs"
        if reason:
            found.skipped.append({"pull": pull.number, "reason": reason})
            continue
        statement = "\n\n".join(f"{i.title}\n{i.body}".strip() for i in issues) + "\n"
        found.instances.append(Instance(instance_id, repo, pull.base_sha, statement, patch))
    progress(len(found.instances), limit, "")
    return found
