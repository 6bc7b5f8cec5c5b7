"""Edits: parse an LLM's search/replace blocks or unified diffs, apply them robustly, lint the result.

>>> edits = parse_edits(reply)                     # NoEditsError when there is nothing to apply
>>> result = apply_edits(work_tree, edits)         # EditApplyError, nothing written, when one cannot apply
>>> problems = lint_changed(work_tree, result.changed + result.created, before=originals)
"""

from __future__ import annotations

from repomind.pipeline.edits.apply import apply_edits
from repomind.pipeline.edits.lint import LintProblem, lint_changed
from repomind.pipeline.edits.model import ApplyResult, Edit, EditApplyError, EditError, NoEditsError
from repomind.pipeline.edits.parse import parse_edits

__all__ = [
    "ApplyResult",
    "Edit",
    "EditApplyError",
    "EditError",
    "LintProblem",
    "NoEditsError",
    "apply_edits",
    "lint_changed",
    "parse_edits",
]
