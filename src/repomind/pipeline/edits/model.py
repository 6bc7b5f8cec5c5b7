"""The edit model shared by the parser, the applier and their callers: edits, results and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from repomind.errors import RepomindError


@dataclass(frozen=True)
class Edit:
    """One search/replace block, or one hunk of a unified diff converted to a block.

    ``search`` and ``replace`` are whole lines ("\\n"-terminated, except where a diff says the file has no
    final newline). An empty ``search`` creates a file (or fills an empty one). ``delete`` removes the file
    (a diff to ``/dev/null``); ``search`` then holds the content the diff expects, or "" for "any".
    ``source`` says where the edit came from: line-number-free blocks, or a diff hunk.
    """

    path: str
    search: str
    replace: str
    delete: bool = False
    source: Literal["block", "diff"] = "block"


class EditError(RepomindError):
    """An edit that cannot be applied, with a precise reason."""


class NoEditsError(EditError):
    """The reply contained no valid search/replace block or unified diff (the message says why)."""


class EditApplyError(EditError):
    """One edit could not be applied; ``reason`` says why ("not found", "ambiguous: ...", ...).

    Nothing was written: application is all-or-nothing.
    """

    def __init__(self, edit: Edit, reason: str, *, index: int | None = None) -> None:
        self.edit = edit
        self.reason = reason
        self.index = index
        where = f"edit {index} " if index is not None else "edit "
        super().__init__(f"{where}to {edit.path}: {reason}")


@dataclass
class ApplyResult:
    """What :func:`apply_edits` wrote; ``notes`` name each tolerance that was needed, per edit."""

    changed: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
