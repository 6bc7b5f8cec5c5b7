"""Unified diffs (git's, GNU diff's, or an LLM's approximation) turned into :class:`Edit` blocks.

Line numbers are ignored: the applier finds each hunk by its context. Hunk counts are used when they agree
with the hunk's body, so a removed line such as ``--- x`` is not mistaken for a header; when they are wrong
(LLMs often miscount) the body is read up to the next hunk, file header, fence or prose.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from repomind.pipeline.edits.model import Edit, NoEditsError

DEV_NULL = "/dev/null"
_HUNK = re.compile(r"^@@\s*-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?\s*@@")
_FENCE_PREFIXES = ("```", "~~~")


def starts_file(lines: Sequence[str], i: int) -> bool:
    """Whether ``lines[i]`` opens a file's section (``--- old`` followed by ``+++ new``)."""
    return lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def _clean_path(raw: str) -> str:
    path = raw.split("\t")[0].strip()
    if len(path) >= 2 and path[0] == path[-1] == '"':
        path = path[1:-1]
    return path


def _paths(old: str, new: str) -> tuple[str, str]:
    if old.startswith("a/") and new.startswith("b/"):
        return old[2:], new[2:]
    if old == DEV_NULL and new.startswith("b/"):
        return old, new[2:]
    if new == DEV_NULL and old.startswith("a/"):
        return old[2:], new
    return old, new


def _counted_body(lines: Sequence[str], start: int, old: int, new: int) -> tuple[list[str], int] | None:
    """The body as the header's counts delimit it, or None when the counts do not fit the lines."""
    body: list[str] = []
    k = start
    while old > 0 or new > 0:
        if k >= len(lines):
            return None
        line = lines[k]
        tag = line[:1]
        if tag == " " or line == "":
            old, new = old - 1, new - 1
        elif tag == "-":
            old -= 1
        elif tag == "+":
            new -= 1
        elif tag != "\\":
            return None
        if old < 0 or new < 0:
            return None
        body.append(line)
        k += 1
    while k < len(lines) and lines[k].startswith("\\"):
        body.append(lines[k])
        k += 1
    after = k
    while after < len(lines) and not lines[after].strip():
        after += 1
    if after < len(lines) and not starts_file(lines, after):
        following = lines[after]
        if following[:1] in ("+", "-", " ") or (after > k and following.startswith("@@")):
            return None  # the hunk goes on: the counts are too small
    return body, k


def _greedy_body(lines: Sequence[str], start: int) -> tuple[list[str], int]:
    body: list[str] = []
    k = start
    while k < len(lines):
        line = lines[k]
        if line.startswith(("@@", "diff --git", *_FENCE_PREFIXES)) or starts_file(lines, k):
            break
        if line == "" or line[0] in " +-\\":
            body.append(line)
            k += 1
            continue
        following = lines[k + 1] if k + 1 < len(lines) else ""
        if following[:1] in ("+", "-") and not following.startswith(("+++", "---")):
            raise NoEditsError(f"malformed hunk line {line!r}: hunk lines start with ' ', '+' or '-'")
        break
    while body and body[-1] == "":
        body.pop()
    return body, k


def _sides(body: Sequence[str]) -> tuple[str, str]:
    old: list[str] = []
    new: list[str] = []
    last = ""
    for line in body:
        if line.startswith("\\"):  # "\ No newline at end of file" applies to the line before
            if last in (" ", "-") and old:
                old[-1] = old[-1].removesuffix("\n")
            if last in (" ", "+") and new:
                new[-1] = new[-1].removesuffix("\n")
            continue
        tag, content = (" ", "") if line == "" else (line[0], line[1:])
        if tag in (" ", "-"):
            old.append(content + "\n")
        if tag in (" ", "+"):
            new.append(content + "\n")
        last = tag
    return "".join(old), "".join(new)


def _read_hunk(lines: Sequence[str], j: int) -> tuple[tuple[str, str], int]:
    header = _HUNK.match(lines[j])
    counted = None
    if header is not None:
        old = int(header.group(2)) if header.group(2) is not None else 1
        new = int(header.group(4)) if header.group(4) is not None else 1
        counted = _counted_body(lines, j + 1, old, new)
    body, end = counted if counted is not None else _greedy_body(lines, j + 1)
    return _sides(body), end


def read_file(lines: Sequence[str], i: int) -> tuple[list[Edit], int]:
    """Parse the file section at ``lines[i]`` (``--- ...``); return its edits and the next line's index."""
    old_path, new_path = _paths(_clean_path(lines[i][4:]), _clean_path(lines[i + 1][4:]))
    path = old_path if new_path == DEV_NULL else new_path
    if path == DEV_NULL or not path:
        raise NoEditsError(f"a diff names no file: {lines[i]!r} / {lines[i + 1]!r}")
    j = i + 2
    hunks: list[tuple[str, str]] = []
    while j < len(lines) and lines[j].startswith("@@"):
        hunk, j = _read_hunk(lines, j)
        hunks.append(hunk)
    if not hunks:
        raise NoEditsError(f"the diff for {path} has no hunks (@@ ... @@)")
    if old_path == DEV_NULL:
        return [Edit(path, "", "".join(new for _, new in hunks), source="diff")], j
    if new_path == DEV_NULL:
        return [Edit(path, "".join(old for old, _ in hunks), "", delete=True, source="diff")], j
    return [Edit(path, old, new, source="diff") for old, new in hunks], j
