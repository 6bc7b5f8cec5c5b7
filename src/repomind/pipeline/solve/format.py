"""The repository's formatter (``format_command`` in ``.github/repomind.yml``) on the changed files.

Both strategies reach :func:`format_changed` through :func:`repomind.pipeline.solve.attempt.judge_tree`,
after lint and before the tests: the pipeline in each attempt, the agent at each ``submit``. The command
(``ruff format``, ``black``, ...) is split with :func:`shlex.split`, the changed source files are
appended as arguments, and it runs in the sandbox without network on a copy of the work tree. Only its
changes to those files come back: the diff the sandbox returns is cut into one section per file, and a
section is applied to the work tree (``git apply``) only when it modifies one of the files given to the
formatter (no new, deleted, renamed or mode-changed file, no other path: a cache the formatter writes
is ignored). A path the guard protects is never given to it. A formatter that fails, or whose changes
cannot be applied, is a note, never a failure.
"""

from __future__ import annotations

import re
import shlex
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from repomind.pipeline.solve.workspace import GitError, run_git
from repomind.pipeline.toolchain.protocol import trim
from repomind.sandbox import repofs
from repomind.sandbox.errors import SandboxError

if TYPE_CHECKING:
    from repomind.pipeline.solve.attempt import AttemptContext

#: How much of a failing formatter's output the note keeps.
NOTE_CHARS = 600
_SECTION = re.compile(r"^diff --git ", re.MULTILINE)
#: Lines of a section's header that mean more than a change of the file's text.
_NOT_A_MODIFICATION = ("new file mode", "deleted file mode", "rename ", "copy ", "old mode", "new mode")


def format_changed(ctx: AttemptContext, tree: Path, changed: list[str]) -> str:
    """Run ``ctx.format_command`` on the ``changed`` source files in ``tree`` and bring its formatting
    changes back into ``tree``; a short note of what happened ('' when no formatter is configured)."""
    command = ctx.format_command
    if not command:
        return ""
    files = _formattable(ctx, tree, changed)
    if not files:
        return "format_command: no changed source file to format"
    try:
        argv = [*shlex.split(command), *(f"./{f}" if f.startswith("-") else f for f in files)]
    except ValueError as exc:
        return f"format_command could not be read ({exc}): not run"
    try:
        result = ctx.sandbox.run(ctx.env, tree, argv, network=False, capture_diff=True)
    except SandboxError as exc:
        return f"format_command could not run: {exc}"
    if result.exit_code != 0:
        output = trim((result.stdout + result.stderr).strip(), NOTE_CHARS)
        return f"format_command failed (exit {result.exit_code}), its changes not kept: {output}"
    if result.diff is None:
        return "format_command ran, but its changes could not be read back: " + "; ".join(result.notes)
    kept, ignored = _sections(result.diff, set(files))
    if not kept:
        return "format_command: already formatted" + _ignored(ignored)
    problem = _apply(tree, "".join(kept))
    if problem:
        return f"format_command's changes could not be applied: {problem}"
    names = ", ".join(_path_of(s) for s in kept)
    return f"format_command reformatted {len(kept)} file(s): {names}" + _ignored(ignored)


def _formattable(ctx: AttemptContext, tree: Path, changed: list[str]) -> list[str]:
    """The changed files the formatter may touch: regular files (no symlink), not guarded, and of the
    repository's language (the suffix of its toolchain's example path) when it has one."""
    suffix = Path(ctx.toolchain.facts.example_path).suffix
    return [
        rel
        for rel in changed
        if (not suffix or rel.endswith(suffix))
        and ctx.guard.refusal(rel) is None
        and repofs.is_regular_file(tree, rel)
    ]


def _sections(diff: str, allowed: set[str]) -> tuple[list[str], list[str]]:
    """The diff's per-file sections that modify an allowed file, and the paths of the others."""
    starts = [m.start() for m in _SECTION.finditer(diff)]
    kept: list[str] = []
    ignored: list[str] = []
    for i, start in enumerate(starts):
        section = diff[start : starts[i + 1] if i + 1 < len(starts) else len(diff)]
        path = _path_of(section)
        header = section.split("\n@@", 1)[0].splitlines()
        plain = (
            path in allowed
            and header[0] == f"diff --git a/{path} b/{path}"
            and f"--- a/{path}" in header
            and f"+++ b/{path}" in header
            and not any(line.startswith(_NOT_A_MODIFICATION) for line in header)
        )
        (kept if plain else ignored).append(section if plain else (path or header[0]))
    return kept, ignored


def _path_of(section: str) -> str:
    first = section.split("\n", 1)[0]
    name = first.removeprefix("diff --git a/")
    half = (len(name) - 3) // 2  # "X b/X": both halves alike for a plain modification
    return name[:half] if name[half : half + 3] == " b/" and name[half + 3 :] == name[:half] else ""


def _apply(tree: Path, patch: str) -> str:
    """Apply ``patch`` to ``tree``'s files (not its index); '' or what git said."""
    with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False) as handle:
        handle.write(patch if patch.endswith("\n") else patch + "\n")
        name = handle.name
    try:
        run_git(tree, "apply", "--whitespace=nowarn", name)
    except GitError as exc:
        return str(exc)
    finally:
        Path(name).unlink(missing_ok=True)
    return ""


def _ignored(paths: list[str]) -> str:
    if not paths:
        return ""
    shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    return f" (changes to other paths ignored: {shown})"
