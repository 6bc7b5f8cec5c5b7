"""What the model is shown of the repository: candidate files as skeletons plus the relevant spans.

Candidates come from a :class:`~repomind.pipeline.localise.result.Localiser` when one is given; without
one, from the files the issue names (paths, tracebacks, dotted module names) and a keyword ranking.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from repomind.pipeline.issue import Mentions, keywords
from repomind.pipeline.localise.result import Localisation, RankedFile
from repomind.sandbox import repofs
from repomind.sandbox.hostenv import git_env

#: A file up to this size is shown whole.
WHOLE_FILE_CHARS = 12_000
#: Lines of context shown around a line that mentions an identifier from the issue (non-Python files).
SPAN_CONTEXT = 8
INSTRUCTION_FILES = ("AGENTS.md", ".github/repomind.md")
_MAX_INSTRUCTIONS = 8_000


@dataclass(frozen=True)
class FileView:
    """One candidate file as the prompt shows it: whole, or a skeleton and the spans that matter."""

    path: str
    whole: bool
    text: str
    lines: int


def tracked_files(work_tree: Path, *, untracked: bool = False) -> list[str]:
    """The work tree's files as git lists them (with ``untracked``, new files not ignored too): nothing
    is walked, so no symlinked directory is followed."""
    extra = ["--cached", "--others", "--exclude-standard"] if untracked else []
    out = subprocess.run(
        ["git", "-C", str(work_tree), "ls-files", "-z", *extra],
        capture_output=True,
        text=True,
        check=True,
        env=git_env(),
    ).stdout
    return [p for p in out.split("\0") if p]


def fallback_localisation(
    work_tree: Path, issue_text: str, found: Mentions, *, limit: int = 5
) -> Localisation:
    """Files the issue names first, then the Python files ranked by the issue's words (TF-IDF)."""
    files = tracked_files(work_tree)
    named = _named_files(files, found)
    ranked = _keyword_ranking(work_tree, [f for f in files if f.endswith(".py")], keywords(issue_text))
    scores: dict[str, float] = {}
    for i, path in enumerate(named):
        scores[path] = 100.0 - i
    for path, score in ranked:
        scores.setdefault(path, score)
    order = sorted(scores, key=lambda p: -scores[p])[:limit]
    signals = [s for s, used in (("named-in-issue", named), ("keywords", ranked)) if used]
    return Localisation(
        files=[RankedFile(p, round(scores[p], 4)) for p in order],
        set=None,
        confidence=0.0,
        signals=signals,
        note="no localiser given: files named in the issue, then a keyword ranking (no calibration)",
    )


def _named_files(files: list[str], found: Mentions) -> list[str]:
    wanted: list[str] = []
    by_suffix = {f: f for f in files}
    refs = [*found.paths, *(p for p, _ in found.trace_lines)]
    refs += [d.replace(".", "/") + ".py" for d in found.dotted]
    refs += [d.replace(".", "/") + "/__init__.py" for d in found.dotted]
    for ref in refs:
        ref = ref.replace("\\", "/").lstrip("./")
        for path in by_suffix:
            if (path == ref or ref.endswith("/" + path) or path.endswith("/" + ref)) and path not in wanted:
                wanted.append(path)
    return wanted


def _keyword_ranking(work_tree: Path, files: list[str], words: list[str]) -> list[tuple[str, float]]:
    if not words:
        return []
    query = set(words)
    counts: dict[str, Counter[str]] = {}
    for path in files:
        text = repofs.read_text_or_none(work_tree, path)
        if text is None:  # missing, a symlink (never followed on the host) or not a regular file
            continue
        tokens = keywords(re.sub(r"[_/.]", " ", path) + " " + text)
        counts[path] = Counter(t for t in tokens if t in query)
    df = Counter(w for c in counts.values() for w in c)
    n = max(len(counts), 1)
    scored = []
    for path, c in counts.items():
        score = sum((1 + math.log(tf)) * math.log(1 + n / df[w]) for w, tf in c.items())
        if score > 0:
            scored.append((path, score))
    return sorted(scored, key=lambda item: -item[1])


def file_view(
    work_tree: Path, path: str, identifiers: list[str], *, whole_chars: int = WHOLE_FILE_CHARS
) -> FileView:
    """The file whole when it is small; otherwise its skeleton and the definitions the issue touches.

    Read through :mod:`repomind.sandbox.repofs`: a path that is, or passes through, a symlink raises
    :class:`~repomind.sandbox.repofs.UnsafePathError`.
    """
    text = repofs.read_text(work_tree, path)
    lines = text.splitlines()
    if len(text) <= whole_chars:
        return FileView(path, True, _slice(lines, 1, len(lines)), len(lines))
    names = set(identifiers)
    if path.endswith(".py"):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            tree = None
        if tree is not None:
            return FileView(path, False, _python_view(tree, lines, names, whole_chars), len(lines))
    return FileView(path, False, _span_view(lines, names, whole_chars), len(lines))


def _python_view(tree: ast.Module, lines: list[str], names: set[str], budget: int) -> str:
    skeleton: list[tuple[int, str]] = []
    spans: list[tuple[int, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        header = lines[node.lineno - 1].rstrip()
        skeleton.append((node.lineno, f"line {node.lineno}: {header.strip()}"))
        if isinstance(node, ast.ClassDef):
            continue
        body = "\n".join(lines[start - 1 : end])
        if node.name in names or any(re.search(rf"\b{re.escape(n)}\b", body) for n in names):
            spans.append((start, end))
    imports_end = max(
        [n.end_lineno or n.lineno for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)], default=0
    )
    parts = ["Outline (definitions and their line numbers):", *(s for _, s in sorted(skeleton))]
    if imports_end:
        parts += ["", "Imports:", _slice(lines, 1, imports_end)]
    return _with_spans(parts, lines, spans, budget)


def _span_view(lines: list[str], names: set[str], budget: int) -> str:
    spans = []
    for i, line in enumerate(lines, start=1):
        if any(n in line for n in names):
            spans.append((max(1, i - SPAN_CONTEXT), min(len(lines), i + SPAN_CONTEXT)))
    return _with_spans([], lines, spans, budget)


def _with_spans(parts: list[str], lines: list[str], spans: list[tuple[int, int]], budget: int) -> str:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    used = sum(len(p) for p in parts)
    for start, end in merged:
        chunk = _slice(lines, start, end)
        if used + len(chunk) > budget:
            parts.append(f"... (more relevant code from line {start} left out for length)")
            break
        parts += ["", f"Lines {start}-{end}:", chunk]
        used += len(chunk)
    if not merged:
        parts += ["", f"Lines 1-{min(len(lines), 60)}:", _slice(lines, 1, min(len(lines), 60))]
    return "\n".join(parts)


def _slice(lines: list[str], start: int, end: int) -> str:
    return "\n".join(lines[start - 1 : end])


def instructions(work_tree: Path, configured: str | None) -> str:
    """The repository's instructions to contributors: AGENTS.md, .github/repomind.md, the config's text."""
    parts = []
    for name in INSTRUCTION_FILES:
        text = (repofs.read_text_or_none(work_tree, name) or "").strip()
        if text:
            parts.append(f"From {name}:\n{text[:_MAX_INSTRUCTIONS]}")
    if configured and configured.strip():
        parts.append(f"From .github/repomind.yml:\n{configured.strip()[:_MAX_INSTRUCTIONS]}")
    return "\n\n".join(parts)
