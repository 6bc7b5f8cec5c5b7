"""Apply edits to a work tree, all or nothing, keeping each file's line endings, BOM and final newline.

The work tree is hostile: a committed symlink (``a -> /home/worker``, ``calc.py -> /etc/passwd``) must
not let an edit read or write outside it. Files are read through :mod:`repomind.sandbox.repofs` and an
edit whose path is, or passes through, a symlink is refused before anything is written.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from repomind.pipeline.edits.match import Refusal, locate
from repomind.pipeline.edits.model import ApplyResult, Edit, EditApplyError, EditError
from repomind.sandbox import repofs

_BOM = "\ufeff"


@dataclass
class _Doc:
    """A text file as lines without endings, each line's own ending ("" for a last line without one)."""

    lines: list[str] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)
    eol: str = "\n"
    bom: bool = False

    @classmethod
    def parse(cls, text: str) -> _Doc:
        bom = text.startswith(_BOM)
        parts = text.removeprefix(_BOM).split("\n")
        doc = cls(bom=bom)
        for part in parts[:-1]:
            crlf = part.endswith("\r")
            doc.lines.append(part[:-1] if crlf else part)
            doc.ends.append("\r\n" if crlf else "\n")
        if parts[-1]:
            doc.lines.append(parts[-1])
            doc.ends.append("")
        if doc.ends.count("\r\n") > doc.ends.count("\n"):
            doc.eol = "\r\n"
        return doc

    def render(self) -> bytes:
        body = "".join(line + end for line, end in zip(self.lines, self.ends, strict=True))
        return ((_BOM if self.bom else "") + body).encode("utf-8")

    def splice(self, start: int, end: int, new: list[str], *, final_newline: bool | None) -> None:
        """Replace lines ``start:end``; ``final_newline`` (None: keep as is) applies when this reaches EOF."""
        at_eof = end == len(self.lines)
        old_final = self.ends[-1] if self.lines else self.eol
        self.lines[start:end] = new
        self.ends[start:end] = [self.eol] * len(new)
        if at_eof and self.lines:
            keep = final_newline is None or not new
            self.ends[-1] = old_final if keep else (self.eol if final_newline else "")


def _lines(text: str) -> tuple[list[str], bool]:
    text = text.replace("\r\n", "\n")
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return parts, text.endswith("\n")


def _relative(root: Path, raw: str) -> tuple[str, Path]:
    """The normalised repository-relative path and its location; Refusal when it escapes the repository."""
    pure = PurePosixPath(raw.strip())
    if not raw.strip() or pure.is_absolute() or re.match(r"^[A-Za-z]:|^~", raw) or "\\" in raw:
        raise Refusal(f"path outside repository: {raw!r} is not a relative POSIX path")
    if ".." in pure.parts:
        raise Refusal(f"path outside repository: {raw!r} contains '..'")
    if not pure.parts or pure.parts[0] == ".git":
        raise Refusal(f"path {raw!r} is not a file of the repository")
    _no_symlink(root, pure)
    return pure.as_posix(), root.joinpath(*pure.parts)


def _no_symlink(root: Path, pure: PurePosixPath) -> None:
    """Refuse a path any existing component of which is a symlink (or a non-directory on the way)."""
    here = root
    for i, part in enumerate(pure.parts):
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            return  # the rest is created as directories and a regular file
        shown = "/".join(pure.parts[: i + 1])
        if stat.S_ISLNK(mode):
            raise Refusal(f"{shown} is a symbolic link: edits never write through a symbolic link")
        last = i == len(pure.parts) - 1
        if not last and not stat.S_ISDIR(mode):
            raise Refusal(f"{shown} is not a directory")


def _load(root: Path, rel: str) -> tuple[_Doc | None, bytes | None]:
    try:
        data = repofs.read_bytes(root, rel, max_bytes=repofs.DEFAULT_MAX_BYTES + 1)
    except FileNotFoundError:
        return None, None
    except repofs.UnsafePathError as exc:
        raise Refusal(str(exc)) from None
    if len(data) > repofs.DEFAULT_MAX_BYTES:
        raise Refusal("the file is too large to edit")
    if b"\0" in data:
        raise Refusal("binary file: edits apply to text files only")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return _Doc.parse(text), data


def _apply_one(doc: _Doc | None, edit: Edit) -> tuple[_Doc | None, str | None]:
    search, search_nl = _lines(edit.search)
    replace, replace_nl = _lines(edit.replace)
    if edit.delete:
        if doc is None:
            raise Refusal("cannot delete: the file does not exist")
        expected = [s.rstrip() for s in search]
        actual = [f.rstrip() for f in doc.lines]
        while actual and not actual[-1]:
            actual.pop()
        while expected and not expected[-1]:
            expected.pop()
        if search and expected != actual:
            raise Refusal("cannot delete: the file's content differs from the diff's")
        return None, None
    if not any(s.strip() for s in search):
        if doc is not None and any(line.strip() for line in doc.lines):
            hint = " (a hunk without context lines cannot be placed)" if edit.source == "diff" else ""
            raise Refusal(f"the SEARCH part is empty but the file exists and is not empty{hint}")
        new = doc or _Doc()
        new.splice(0, len(new.lines), [r.rstrip() for r in replace], final_newline=replace_nl)
        return new, None
    if doc is None:
        raise Refusal("not found: the file does not exist")
    placement = locate(doc.lines, search, replace)
    final = replace_nl if search_nl != replace_nl else None
    doc.splice(placement.start, placement.end, placement.lines, final_newline=final)
    return doc, placement.note


def apply_edits(work_tree: Path, edits: list[Edit]) -> ApplyResult:
    """Apply ``edits`` in order; validate them all against the files first, then write.

    Raises EditApplyError (nothing written) when any edit cannot be placed exactly once.
    """
    root = work_tree.resolve()
    docs: dict[str, _Doc | None] = {}
    originals: dict[str, bytes | None] = {}
    targets: dict[str, Path] = {}
    result = ApplyResult()
    for index, edit in enumerate(edits, 1):
        try:
            rel, target = _relative(root, edit.path)
            if rel not in docs:
                docs[rel], originals[rel] = _load(root, rel)
                targets[rel] = target
            docs[rel], note = _apply_one(docs[rel], edit)
        except Refusal as exc:
            raise EditApplyError(edit, str(exc), index=index) from None
        if note:
            result.notes.append(f"edit {index} ({rel}): {note}")
    _write(docs, originals, targets, result)
    return result


def _write(
    docs: dict[str, _Doc | None],
    originals: dict[str, bytes | None],
    targets: dict[str, Path],
    result: ApplyResult,
) -> None:
    written: list[tuple[Path, bytes | None]] = []
    try:
        for rel, doc in docs.items():
            target, original = targets[rel], originals[rel]
            if doc is None:
                if original is not None:
                    target.unlink()
                    written.append((target, original))
                    result.deleted.append(rel)
                continue
            data = doc.render()
            if data == original:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_file(target, data)
            written.append((target, original))
            (result.created if original is None else result.changed).append(rel)
    except OSError as exc:
        for target, original in reversed(written):
            if original is None:
                target.unlink(missing_ok=True)
            else:
                _write_file(target, original)
        raise EditError(f"could not write the edits, nothing was changed: {exc}") from exc


def _write_file(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` without following a symlink at the last component."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
