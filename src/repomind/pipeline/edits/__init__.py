"""Edits: parse an LLM's search/replace blocks or unified diffs and apply them robustly.

>>> edits = parse_edits(reply)                     # NoEditsError when there is nothing to apply
>>> result = apply_edits(work_tree, edits)         # EditApplyError, nothing written, when one cannot apply

Linting the result is the repository's toolchain's (:meth:`repomind.pipeline.toolchain.Toolchain.lint`).
"""

from __future__ import annotations

from repomind.pipeline.edits.apply import apply_edits
from repomind.pipeline.edits.model import ApplyResult, Edit, EditApplyError, EditError, NoEditsError
from repomind.pipeline.edits.parse import parse_edits

__all__ = [
    "ApplyResult",
    "Edit",
    "EditApplyError",
    "EditError",
    "NoEditsError",
    "apply_edits",
    "parse_edits",
]
