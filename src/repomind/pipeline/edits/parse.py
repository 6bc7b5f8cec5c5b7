"""Parse an LLM reply into edits: search/replace blocks (Aider/Agentless style) and unified diffs.

A block is a file path, then ``<<<<<<< SEARCH``, the old lines, ``=======``, the new lines and
``>>>>>>> REPLACE``. The path may be the line before the block, inside the fence header
(```` ```python src/x.py ````), a ``### src/x.py`` heading, or ``File: `src/x.py```; a block without one
belongs to the previous block's file. Fences and prose around blocks are ignored. Diffs may be fenced or bare.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from repomind.pipeline.edits import udiff
from repomind.pipeline.edits.model import Edit, NoEditsError

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\b")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\b")
_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})(.*)$")
_PATH = re.compile(r"^(?:[\w.\-+@]+/)*[\w\-+@][\w.\-+@]*$")
_DECORATION = re.compile(r"^(?:#{1,6}\s*|(?:file(?:name)?|path)\s*:\s*)", re.IGNORECASE)
_BACKTICKED = re.compile(r"`([^`\s]+)`")


def _looks_like_path(token: str) -> bool:
    return bool(_PATH.match(token)) and ("/" in token or re.search(r"\.\w+$", token) is not None)


def _path_in(line: str) -> str | None:
    text = line.strip()
    fence = _FENCE.match(text)
    if fence is not None:
        for token in fence.group(1).replace(":", " ").split():
            if _looks_like_path(token):
                return token
        return None
    bare = _DECORATION.sub("", text).strip("*`'\" ").rstrip(":").strip("*`'\" ")
    if _looks_like_path(bare):
        return bare
    named = [t for t in _BACKTICKED.findall(text) if _looks_like_path(t)]
    return named[-1] if named else None


def _path_before(lines: Sequence[str], i: int) -> str | None:
    """The file path named just before the block that starts at ``lines[i]``."""
    for k in range(i - 1, max(-1, i - 5), -1):
        line = lines[k]
        if not line.strip():
            continue
        if _REPLACE.match(line):
            return None
        path = _path_in(line)
        if path is not None:
            return path
        if not _FENCE.match(line):
            return None
    return None


def _read_block(lines: Sequence[str], i: int, number: int, path: str) -> tuple[Edit, int]:
    where = f"search/replace block {number} ({path})"
    j = i + 1
    search: list[str] = []
    while j < len(lines) and not _DIVIDER.match(lines[j]):
        if _SEARCH.match(lines[j]) or _REPLACE.match(lines[j]):
            raise NoEditsError(f"{where}: expected ======= between SEARCH and REPLACE")
        search.append(lines[j])
        j += 1
    if j >= len(lines):
        raise NoEditsError(f"{where}: ======= is missing")
    j += 1
    replace: list[str] = []
    while j < len(lines) and not _REPLACE.match(lines[j]):
        if _SEARCH.match(lines[j]):
            raise NoEditsError(f"{where}: >>>>>>> REPLACE is missing")
        replace.append(lines[j])
        j += 1
    if j >= len(lines):
        raise NoEditsError(f"{where}: >>>>>>> REPLACE is missing")

    def text(part: list[str]) -> str:
        return "".join(line + "\n" for line in part)

    return Edit(path, text(search), text(replace)), j + 1


def parse_edits(reply: str) -> list[Edit]:
    """Every search/replace block and unified-diff hunk in ``reply``, in order; NoEditsError if none."""
    lines = reply.replace("\r\n", "\n").split("\n")
    edits: list[Edit] = []
    last_path: str | None = None
    blocks = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if _SEARCH.match(line):
            blocks += 1
            path = _path_before(lines, i) or last_path
            if path is None:
                raise NoEditsError(
                    f"search/replace block {blocks} names no file: put its path on the line before the block"
                )
            edit, i = _read_block(lines, i, blocks, path)
            edits.append(edit)
            last_path = path
        elif udiff.starts_file(lines, i):
            found, i = udiff.read_file(lines, i)
            edits.extend(found)
        elif line.startswith("Binary files ") or line.startswith("GIT binary patch"):
            raise NoEditsError(f"binary diffs are not supported: {line.strip()!r}")
        else:
            i += 1
    if not edits:
        raise NoEditsError("the reply contains no search/replace block and no unified diff")
    return edits
