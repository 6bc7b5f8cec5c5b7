"""Calibration pairs from a repository's own git history: (commit message → source files changed).

Commit messages stand in for issue texts. The first-parent history of a revision is read newest first;
each commit on it is one change, made on its first parent: a pull request's merge (its description is
the merge message's body, the pull request's title), a squash merge (``Title (#123)``, the number kept
out) or a plain commit. Changes are skipped when they say nothing about a fix: reverts, releases and
version bumps, merges of branches without a description, bots' changes, and changes with no source
file or with more than :data:`MAX_FILES` (mass edits). The files are the source files the change
modified, as the localiser judges a fix (no tests, docs, changelogs or vendored files, only languages it
indexes); a file the change added did not exist on the revision that is ranked, so it is left out.

The repository is hostile: commits are read as raw objects through ``git cat-file`` and paths through
``git diff-tree -z``, every call with the host's allow-listed environment; nothing is checked out.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from repomind.pipeline.localise import gitread
from repomind.pipeline.localise.history_issues import is_fix_target
from repomind.pipeline.localise.index import DEFAULT_IGNORE
from repomind.pipeline.localise.parsing import language_of
from repomind.pipeline.localise.tokens import tokenize
from repomind.sandbox.hostenv import git_env

#: A change touching more source files than this is a mass edit (a rename, a reformat), not a fix.
MAX_FILES = 10
#: The longest description kept (a squash merge's body can list hundreds of commits).
MAX_DESCRIPTION = 4000

_MERGE = re.compile(
    r"^Merge (?:pull request #(?P<pull>\d+) from (?P<source>\S+)|(?:remote-tracking )?branch(?:es)? |tag |commit )"
)
_SQUASH_NUMBER = re.compile(r"\s*\((?:#|GH-|gh-)\d+\)\s*$")
_REFERENCE = re.compile(r"(?:[\w.-]+/[\w.-]+)?#\d+|https?://\S+")
_REVERT = re.compile(r"^(?:Revert\b|Reapply\b)|\bThis reverts commit [0-9a-f]{7,}", re.I | re.M)
_RELEASE = re.compile(
    r"^\W*(?:release[sd]?\b|releasing\b|prepar(?:e|ing)\b.*\brelease|bump(?:ed|s|ing)?\b.*\bversion|"
    r"bump(?:ed|s|ing)? to v?\d|version bump|(?:update|set)\s+(?:the\s+)?version|back to dev|"
    r"start(?:ing)? (?:\S+ )?development|v?\d+(?:\.\d+)+\s*$|\[release\])",
    re.I,
)
_BOT = re.compile(
    r"\[bot\]|dependabot|pre-commit-ci|pre-commit\.ci|renovate|github-actions|greenkeeper|allcontributors|"
    r"snyk-bot|imgbot|weblate",
    re.I,
)
_TRAILER = re.compile(
    r"^(?:signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by|reported-by|change-id|"
    r"cc|see merge request|conflicts)\b.*$|^#\s*conflicts:.*$|^\t.*$|\[(?:skip ci|ci skip|skip actions)\]",
    re.I | re.M,
)


@dataclass(frozen=True)
class HistoryPair:
    """One change of the history, as a calibration pair."""

    commit: str
    #: The revision the change was made on (its first parent): what is ranked.
    parent: str
    #: Committer time, unix seconds.
    time: int
    description: str
    #: Source files the change modified (see the module docstring).
    files: tuple[str, ...]


@dataclass(frozen=True)
class _Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    time: int
    message: str


def history_pairs(
    clone: Path,
    rev: str | None = None,
    *,
    limit: int = 1000,
    max_files: int = MAX_FILES,
    ignore: tuple[str, ...] = DEFAULT_IGNORE,
    reasons: Counter[str] | None = None,
) -> list[HistoryPair]:
    """Up to ``limit`` pairs from the first-parent history of ``rev`` (default HEAD), newest first; the
    reason each change was skipped is counted in ``reasons`` when given."""
    head = gitread.resolve(clone, rev)
    skipped: Counter[str] = reasons if reasons is not None else Counter()
    pairs: list[HistoryPair] = []
    batch = max(200, limit)
    offset = 0
    while len(pairs) < limit:
        shas = _first_parents(clone, head, skip=offset, count=batch)
        if not shas:
            break
        offset += len(shas)
        commits = [c for c in _read_commits(clone, shas) if c.parents]
        described = {}
        for commit in commits:
            description, reason = describe(commit.message, commit.author, merge=len(commit.parents) > 1)
            if reason:
                skipped[reason] += 1
            else:
                described[commit.sha] = description
        changes = _changed(clone, [(c.sha, c.parents[0]) for c in commits if c.sha in described])
        for commit in commits:
            if commit.sha not in described:
                continue
            files, reason = source_files(changes.get(commit.sha, []), max_files=max_files, ignore=ignore)
            if reason:
                skipped[reason] += 1
                continue
            pairs.append(HistoryPair(commit.sha, commit.parents[0], commit.time, described[commit.sha], files))
            if len(pairs) >= limit:
                break
        if len(shas) < batch:
            break
    return pairs


def describe(message: str, author: str, *, merge: bool = False) -> tuple[str, str]:
    """(description, "") of a commit message, or ("", why the change is skipped); ``merge`` says the
    commit has several parents (a merge line then names a branch, whose description is the body)."""
    if _BOT.search(author):
        return "", "bot"
    subject, _, body = message.strip().partition("\n")
    subject, body = subject.strip(), body.strip()
    if _REVERT.search(message):
        return "", "revert"
    matched = _MERGE.match(subject) if merge else None
    if matched:
        if matched["source"] and _BOT.search(matched["source"]):
            return "", "bot"
        subject = ""  # the merge line names a branch, not the change (a merge with its own subject keeps it)
    subject = _SQUASH_NUMBER.sub("", subject)
    text = _TRAILER.sub("", "\n\n".join(part for part in (subject, body) if part)).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)[:MAX_DESCRIPTION]
    first = text.partition("\n")[0]
    if _RELEASE.search(first):
        return "", "release or version bump"
    if _BOT.search(first):
        return "", "bot"
    if len(tokenize(_REFERENCE.sub(" ", text))) < 2:  # "Fixes #123" alone says nothing of the change
        return "", "merge without a description" if matched else "no description"
    return text + "\n", ""


def source_files(
    changes: list[tuple[str, str]], *, max_files: int = MAX_FILES, ignore: tuple[str, ...] = DEFAULT_IGNORE
) -> tuple[tuple[str, ...], str]:
    """The source files a change modified (from ``(status, path)``), or ((), why the change is skipped)."""
    source = [(status, path) for status, path in changes if is_source(path, ignore)]
    if not source:
        return (), "no source file"
    if len(source) > max_files:
        return (), f"more than {max_files} source files"
    kept = tuple(sorted({path for status, path in source if status != "A"}))
    return (kept, "") if kept else ((), "adds files only")


def is_source(path: str, ignore: tuple[str, ...] = DEFAULT_IGNORE) -> bool:
    """A file the localiser indexes and judges a fix on."""
    if language_of(path) is None or not is_fix_target(path):
        return False
    return not any(fnmatch.fnmatch(f"/{path}", f"*{pattern}") for pattern in ignore)


def _git(clone: Path, *args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", "-C", str(clone), *args], input=stdin, capture_output=True, check=False, env=git_env()
    )
    if proc.returncode != 0:
        raise gitread.LocaliseError(f"git {args[0]} failed in {clone}: {proc.stderr.decode().strip()}")
    return proc.stdout


def _first_parents(clone: Path, head: str, *, skip: int, count: int) -> list[str]:
    out = _git(clone, "rev-list", "--first-parent", f"--skip={skip}", f"--max-count={count}", head)
    return out.decode().split()


def _read_commits(clone: Path, shas: list[str]) -> list[_Commit]:
    """The commits, parsed from their raw objects, in the order of ``shas``."""
    raw = dict(gitread.read_blobs(clone, shas))
    return [parse_commit(sha, raw[sha]) for sha in shas if sha in raw]


def parse_commit(sha: str, data: bytes) -> _Commit:
    """A raw commit object: headers (continuation lines start with a space), a blank line, the message."""
    head, _, message = data.partition(b"\n\n")
    parents: list[str] = []
    author, time = "", 0
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"parent":
            parents.append(value.decode("ascii", "replace").strip())
        elif key == b"author":
            author = value.decode("utf-8", "replace").rsplit(" ", 2)[0]
        elif key == b"committer":
            fields = value.rsplit(b" ", 2)
            time = int(fields[1]) if len(fields) == 3 and fields[1].isdigit() else 0
    return _Commit(sha, tuple(parents), author, time, message.decode("utf-8", "replace"))


def _changed(clone: Path, pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """commit → [(status, path)] against its first parent, through one ``git diff-tree --stdin``."""
    if not pairs:
        return {}
    stdin = "".join(f"{commit} {parent}\n" for commit, parent in pairs).encode()
    out = _git(clone, "diff-tree", "--stdin", "-r", "-z", "--name-status", "--no-renames", stdin=stdin)
    wanted = {commit for commit, _ in pairs}
    result: dict[str, list[tuple[str, str]]] = {}
    tokens = out.split(b"\0")
    current: list[tuple[str, str]] | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i].decode("utf-8", "surrogateescape").strip()
        if token in wanted:
            current = result.setdefault(token, [])
            i += 1
        elif current is not None and token and token[0] in "ADMTUX" and i + 1 < len(tokens):
            current.append((token[0], tokens[i + 1].decode("utf-8", "surrogateescape")))
            i += 2  # a status is always followed by its one path (no renames)
        else:
            i += 1
    return result
