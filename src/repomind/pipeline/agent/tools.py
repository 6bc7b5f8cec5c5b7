"""The agent's tools on its work tree: ``search``, ``view``, ``edit`` and ``run_tests`` (``submit`` is the
loop's own).

Every argument comes from a model that read hostile issue text. A tool never raises for bad input: it
answers an :class:`Observation` with ``ok=False`` that says what was wrong. Files are read only through
:mod:`repomind.sandbox.repofs` (never through a symbolic link), paths outside the tree and protected paths
are refused, test targets that look like options are refused, and every observation is capped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from repomind.pipeline.agent import outline as outlines
from repomind.pipeline.agent import testrun
from repomind.pipeline.agent.search import Grep, SearchError, content_record, heading, usable_glob
from repomind.pipeline.edits import Edit, EditApplyError, EditError, apply_edits
from repomind.pipeline.edits.guard import HOW_TO_ALLOW
from repomind.pipeline.solve import verify
from repomind.pipeline.solve.attempt import AttemptContext
from repomind.pipeline.solve.workspace import changed_paths
from repomind.pipeline.toolchain.protocol import TestCommand
from repomind.sandbox import repofs
from repomind.sandbox.errors import SandboxError

#: The most an observation holds; longer text is cut at a line with a note.
OBSERVATION_CHARS = 12_000
#: The most lines one ``view`` shows.
VIEW_LINES = 400
#: Unchanged lines shown around an edit's change.
EDIT_CONTEXT = 3
_SHOWN_CHANGE = 60


@dataclass(frozen=True)
class Observation:
    """What a tool answers: the text the model reads, a few words for live views, and data for reports."""

    text: str
    outcome: str
    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)


class _Refused(Exception):
    """A tool argument that cannot be used; becomes an ``ok=False`` observation."""

    def __init__(self, outcome: str, text: str) -> None:
        super().__init__(text)
        self.outcome = outcome
        self.text = text


def cap(text: str, limit: int = OBSERVATION_CHARS) -> str:
    """``text`` cut at a line boundary to at most ``limit`` characters, with a note of what was cut."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 80)
    cut = cut if cut > 0 else limit - 80
    rest = text[cut:]
    return f"{text[:cut]}\n... ({rest.count(chr(10))} more lines, {len(rest)} characters, left out)"


def clean_path(raw: object) -> str:
    """A repository-relative POSIX path, or :class:`_Refused` for one outside the tree (or of git's)."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text or "\0" in text or "\n" in text:
        raise _Refused("refused: bad path", f"Not a usable path: {raw!r}.")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith(("/", "~")) or "\\" in text or ".." in parts or not parts:
        raise _Refused("refused: outside the tree", f"{text!r} is not a path inside the repository.")
    if parts[0] == ".git":
        raise _Refused("refused: outside the tree", f"{text!r} is git's own data, not a repository file.")
    return PurePosixPath(*parts).as_posix()


def _lines(text: str) -> list[str]:
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


class ToolBox:
    """The tools on ``tree`` (the agent's work tree), with the run's sandbox, toolchain and guard."""

    def __init__(self, ctx: AttemptContext, tree: Path, *, shown: set[str]) -> None:
        self.ctx = ctx
        self.tree = tree
        #: Paths shown to the model (the first message's files, then every ``view``): the caller's set.
        self.shown = shown
        self._grep = Grep(tree)
        self._outlines: dict[str, tuple[int, list[outlines.Entry]]] = {}

    # -- search ---------------------------------------------------------------------------------------
    def search(self, regex: str, path_glob: str | None = None) -> Observation:
        where = f" in `{path_glob}`" if path_glob else ""
        if not isinstance(regex, str) or not regex or "\0" in regex or "\n" in regex or len(regex) > 2000:
            return Observation(
                "Give a regex of one line (1 to 2,000 characters).", "refused: bad regex", ok=False
            )
        if path_glob is not None and not usable_glob(path_glob):
            text = f"`{path_glob}` is not a glob inside the repository (example: `src/**/*.py`)."
            return Observation(text, "refused: bad glob", ok=False)
        try:
            contents = self._grep.contents(regex, path_glob or None)
            names = self._grep.names(regex, path_glob or None)
        except SearchError as exc:
            outcome = "timed out" if "ran past" in str(exc) else "refused: bad regex"
            return Observation(f"The search for `{regex}`{where} failed: {exc}", outcome, ok=False)
        hits = [content_record(r) for r in contents.kept]
        matched = [n.decode("utf-8", "replace") for n in names.kept]
        if not hits and not matched:
            return Observation(f"No file content or file name matches `{regex}`{where}.", "no matches")
        parts = [f"Search for `{regex}`{where}."]
        parts.append(heading("lines in file contents", len(hits), contents.total, contents.incomplete))
        parts += [f"{path}:{line}: {text}" for path, line, text in hits]
        parts.append(heading("file names", len(matched), names.total, names.incomplete))
        parts += matched
        outcome = _count(contents.total, "match", "matches") + (
            f", {_count(names.total, 'file name', 'file names')}" if names.total else ""
        )
        files = sorted({path for path, _, _ in hits})
        return Observation(cap("\n".join(parts)), outcome, data={"files": files, "names": matched})

    # -- view -----------------------------------------------------------------------------------------
    def view(self, path: str, line: int = 1, before: int = 0, after: int = 100) -> Observation:
        try:
            rel = clean_path(path)
            text = self._read(rel)
        except _Refused as exc:
            return Observation(exc.text, exc.outcome, ok=False)
        lines = _lines(text)
        total = len(lines)
        self.shown.add(rel)
        if not total:
            return Observation(f"{rel} is empty.", "empty file", data={"path": rel})
        line = min(max(_int(line, 1), 1), total)
        start = max(1, line - max(_int(before, 0), 0))
        end = min(total, line + max(_int(after, 100), 0), start + VIEW_LINES - 1)
        parts = [f"{rel} ({total} lines)"]
        found = outlines.render(self._entries(rel, text), budget=3000, around=line)
        if found:
            parts += ["Outline (definitions and their line numbers):", found, ""]
        parts += [f"Lines {start}-{end}:", outlines.numbered(lines, start, end)]
        if end < total:
            parts.append(f"({total - end} more lines: view line {end + 1} for the next ones)")
        return Observation(cap("\n".join(parts)), f"lines {start}-{end}", data={"path": rel})

    def outline(self, path: str) -> str:
        """The file's definitions with their line numbers ("" when it cannot be read or has none)."""
        try:
            rel = clean_path(path)
            return outlines.render(self._entries(rel, self._read(rel)))
        except _Refused:
            return ""

    def _entries(self, rel: str, text: str) -> list[outlines.Entry]:
        """The file's outline, kept while its text is unchanged (views of one file follow each other)."""
        key = hash(text)
        cached = self._outlines.get(rel)
        if cached is None or cached[0] != key:
            cached = self._outlines[rel] = (key, outlines.entries(rel, text))
        return cached[1]

    def _read(self, rel: str) -> str:
        try:
            data = repofs.read_bytes(self.tree, rel)
        except FileNotFoundError:
            raise _Refused("not found", f"{rel} does not exist (search for its name?).") from None
        except repofs.UnsafePathError as exc:
            raise _Refused(*self._not_a_file(rel, exc)) from None
        if b"\0" in data[:8192]:
            raise _Refused("binary file", f"{rel} is a binary file: not shown.")
        return data.decode("utf-8", "replace")

    def _not_a_file(self, rel: str, exc: repofs.UnsafePathError) -> tuple[str, str]:
        try:
            entries = repofs.list_dir(self.tree, rel, limit=200)
        except (OSError, repofs.UnsafePathError):
            return "refused: not a regular file", f"{rel} cannot be shown: {exc}."
        listing = ", ".join(f"{name}/" if kind == "dir" else name for name, kind in sorted(entries))
        return "directory", f"{rel} is a directory; its entries: {listing}"

    # -- edit -----------------------------------------------------------------------------------------
    def edit(self, path: str, search: str, replace: str) -> Observation:
        try:
            rel = clean_path(path)
            if not isinstance(search, str) or not isinstance(replace, str) or "\0" in search + replace:
                raise _Refused("refused: bad text", "`search` and `replace` must be text (no NUL bytes).")
            why = self.ctx.guard.refusal(rel)
            if why is not None:
                raise _Refused("refused: protected path", f"Not applied: {why}. {HOW_TO_ALLOW}")
            before = repofs.read_text_or_none(self.tree, rel)
            creating = not search.strip() and before is None and not os.path.lexists(self.tree / rel)
            if rel not in self.shown and not creating:
                raise _Refused(
                    "refused: not shown yet",
                    f"Not applied: {rel} has not been shown yet. View it first (view(path={rel!r}, "
                    "line=...)) so that the edit is made against its current text.",
                )
            applied = apply_edits(self.tree, [Edit(rel, search, replace)])
        except _Refused as exc:
            return Observation(exc.text, exc.outcome, ok=False)
        except EditApplyError as exc:
            short = _short_reason(exc.reason)
            text = f"Not applied ({exc.reason}). Nothing was changed."
            if short == "no match":
                text += " View the file again and copy the `search` text exactly from it."
            elif short == "ambiguous":
                text += " Make `search` longer, with lines that occur once only."
            return Observation(text, f"not applied: {short}", ok=False, data={"reason": exc.reason})
        except EditError as exc:
            return Observation(f"Not applied: {exc}", "not applied: write failed", ok=False)
        self.shown.add(rel)
        return self._edited(rel, before, applied.notes)

    def _edited(self, rel: str, before: str | None, notes: list[str]) -> Observation:
        after = repofs.read_text_or_none(self.tree, rel) or ""
        old, new = _lines(before or ""), _lines(after)
        head = 0
        while head < min(len(old), len(new)) and old[head] == new[head]:
            head += 1
        tail = 0
        while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
            tail += 1
        first, last = head + 1, len(new) - tail  # the changed lines of the new text, 1-based
        verb = "Created" if before is None else "Applied to"
        parts = [f"{verb} {rel}: lines {first}-{last} are new ({len(new)} lines now)."]
        if before == after:
            parts = [f"Applied to {rel}, but the text did not change."]
        parts += [f"Note: {n.split(': ', 1)[-1]}" for n in notes]
        start, end = max(1, first - EDIT_CONTEXT), min(len(new), max(last, first) + EDIT_CONTEXT)
        if new:
            if end - start + 1 > _SHOWN_CHANGE:
                parts.append(outlines.numbered(new, start, start + _SHOWN_CHANGE // 2))
                parts.append(f"... (view line {start + _SHOWN_CHANGE // 2 + 1} for the rest)")
                parts.append(outlines.numbered(new, end - _SHOWN_CHANGE // 2 + 1, end))
            else:
                parts.append(outlines.numbered(new, start, end))
        problems = self.ctx.toolchain.lint(self.tree, [rel], before=None if before is None else {rel: before})
        if problems:
            parts.append(f"The edit introduced {len(problems)} problem(s); fix them:")
            parts += [str(p) for p in problems]
        outcome = "applied" + (f", {len(problems)} new problem(s)" if problems else "")
        data = {"changed": rel, "created": before is None, "problems": [str(p) for p in problems]}
        return Observation(cap("\n".join(parts)), outcome, data=data)

    # -- run_tests ------------------------------------------------------------------------------------
    def run_tests(self, targets: list[str] | None = None) -> Observation:
        if isinstance(targets, str):
            targets = [targets]
        if targets is not None and not isinstance(targets, list | tuple):
            return Observation("`targets` is a list of test files or ids.", "refused: bad target", ok=False)
        if targets:
            bad = [t for t in targets if not testrun.usable_target(t)]
            if bad:
                text = (
                    f"Refused test target(s) {bad!r}: give test files or test ids (such as "
                    "`tests/test_x.py::test_y`), not options."
                )
                return Observation(text, "refused: bad target", ok=False)
            command, reason = self.ctx.toolchain.test_command(targets), "the tests asked for"
        else:
            plan = verify.plan_tests(
                self.tree,
                changed_paths(self.tree),
                self.ctx.found,
                self.ctx.test_command,
                toolchain=self.ctx.toolchain,
            )
            command, reason = plan.command, plan.reason
        return self._run(command, reason)

    def _run(self, command: TestCommand, reason: str) -> Observation:
        ctx = self.ctx
        try:
            run = verify.run_tests(ctx.sandbox, ctx.env, self.tree, command, toolchain=ctx.toolchain)
        except SandboxError as exc:
            return Observation(f"The tests could not be run: {exc}", "could not run", ok=False)
        text, outcome, data = testrun.render(run, reason, ctx.toolchain)
        return Observation(cap(text), outcome, data=data)


def _int(value: object, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return default
    try:
        return int(value)
    except ValueError:
        return default


def _short_reason(reason: str) -> str:
    if reason.startswith("not found"):
        return "no match"
    if reason.startswith("ambiguous"):
        return "ambiguous"
    return reason.split(":")[0][:60]


__all__ = ["Observation", "ToolBox", "cap", "clean_path"]


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
