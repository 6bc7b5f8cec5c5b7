"""What ``view`` shows of a file: its outline (top-level and class-level definitions with their line
numbers) and numbered lines.

Python is outlined from its syntax tree. A file that does not parse (a half-done edit) or is too large to
parse within a view's time (the largest files of big projects take longer than the view's whole budget)
is outlined by a line scan that follows indentation, as is every other language, with a small pattern of
the usual definition keywords.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

#: A Python file larger than this is outlined by the line scan (parsing 75 kB takes 30 ms and more).
AST_MAX_CHARS = 32_000
#: A shown line longer than this is cut (minified files), with a note of what was left out.
LINE_CHARS = 400
_HEADER_CHARS = 120

_PY_HEADER = re.compile(r"^([ \t]*)(?:async[ \t]+)?(def|class)[ \t]+\w")
_OTHER_HEADER = re.compile(
    r"^([ \t]*)(?:(?:export|public|private|protected|internal|static|abstract|final|async|pub(?:\([^)]*\))?"
    r"|default|unsafe|extern|inline|virtual|override|open|data|sealed)[ \t]+)*"
    r"(class|interface|struct|enum|trait|impl|module|namespace|object|record|type|function|func|fn|def"
    r"|sub|proc|macro_rules!)\b[ \t]*[\w<(]"
)
#: A method of a brace language's class, without a keyword (``render() {``, ``public int size() {``).
_METHOD = re.compile(
    r"^([ \t]+)(?:(?:public|private|protected|internal|static|async|override|final|abstract|get|set"
    r"|def|fn|func)[ \t]+)*(?:[\w$<>\[\],.? ]+[ \t]+)?([\w$]+)[ \t]*\([^;]*\)[^;=]*\{[ \t]*$"
)
_NOT_METHODS = frozenset({"if", "for", "while", "switch", "catch", "with", "return", "else", "do", "try"})
_CONTAINERS = frozenset(
    {"class", "interface", "struct", "enum", "trait", "impl", "module", "namespace", "object"}
)


@dataclass(frozen=True)
class Entry:
    """One definition: its 1-based line, nesting depth (0 top level, 1 inside a class) and header."""

    line: int
    depth: int
    header: str


def entries(path: str, text: str) -> list[Entry]:
    """The top-level and class-level definitions of ``text`` in line order."""
    lines = text.splitlines()
    if path.endswith((".py", ".pyi")):
        if len(text) <= AST_MAX_CHARS:
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                tree = None
            if tree is not None:
                return _python_entries(tree, lines)
        return _scan(lines, _PY_HEADER, frozenset({"class"}))
    return _scan(lines, _OTHER_HEADER, _CONTAINERS, methods=True)


def _header(lines: list[str], line: int) -> str:
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return text if len(text) <= _HEADER_CHARS else text[: _HEADER_CHARS - 3] + "..."


def _python_entries(tree: ast.Module, lines: list[str]) -> list[Entry]:
    out: list[Entry] = []
    defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    for node in tree.body:
        if not isinstance(node, defs):
            continue
        out.append(Entry(node.lineno, 0, _header(lines, node.lineno)))
        if isinstance(node, ast.ClassDef):
            for child in node.body:
                if isinstance(child, defs):
                    out.append(Entry(child.lineno, 1, _header(lines, child.lineno)))
    return out


def _scan(
    lines: list[str], header: re.Pattern[str], containers: frozenset[str], *, methods: bool = False
) -> list[Entry]:
    """Definitions at the top level or directly inside a top-level container, by indentation; lines of
    a triple-quoted string are skipped (roughly: an odd count of quotes opens or closes one). With
    ``methods``, a container's lines that open a brace after a parameter list count too."""
    out: list[Entry] = []
    container: int | None = None  # the body indentation of the open top-level container, once known
    open_container = False
    in_string = False
    for number, raw in enumerate(lines, 1):
        quotes = raw.count('"""') + raw.count("'''")
        if in_string:
            in_string = quotes % 2 == 0
            continue
        in_string = quotes % 2 == 1
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", "//", "/*", "*", "@", ")", "]", "}")):
            continue
        indent = len(raw) - len(raw.lstrip(" \t"))
        match = header.match(raw)
        if indent == 0:
            open_container, container = False, None
            if match:
                out.append(Entry(number, 0, _header(lines, number)))
                open_container = match.group(2) in containers
            continue
        if open_container and container is None:
            container = indent
        if open_container and indent == container:
            method = _METHOD.match(raw) if methods and not match else None
            if match or (method and method.group(2) not in _NOT_METHODS):
                out.append(Entry(number, 1, _header(lines, number)))
    return out


def render(found: list[Entry], *, budget: int = 4000, around: int | None = None) -> str:
    """The outline as numbered lines, at most ``budget`` characters: when it is longer, the definitions
    nearest to line ``around`` (default: the start) are kept and the gaps say how many were left out."""
    if not found:
        return ""
    width = len(str(found[-1].line))
    rows = [f"{e.line:>{width}}: {'    ' * e.depth}{e.header}" for e in found]
    if sum(len(r) + 1 for r in rows) <= budget:
        return "\n".join(rows)
    centre = around or 1
    order = sorted(range(len(found)), key=lambda i: (abs(found[i].line - centre), found[i].depth))
    enclosing = [i for i, e in enumerate(found) if e.depth == 0 and e.line <= centre][-1:]
    kept: set[int] = set(enclosing)  # the top-level definition that holds ``around``
    used = 60 + sum(len(rows[i]) + 1 for i in kept)  # with room for the gap notes
    for i in order:
        if used + len(rows[i]) + 1 > budget:
            break
        kept.add(i)
        used += len(rows[i]) + 1
    out: list[str] = []
    skipped = 0
    for i, row in enumerate(rows):
        if i in kept:
            if skipped:
                out.append(f"   ... ({skipped} more definitions)")
                skipped = 0
            out.append(row)
        else:
            skipped += 1
    if skipped:
        out.append(f"   ... ({skipped} more definitions)")
    return "\n".join(out)


def numbered(lines: list[str], start: int, end: int) -> str:
    """Lines ``start``..``end`` (1-based, inclusive) as ``NUMBER: text``; very long lines cut."""
    width = len(str(max(end, 1)))
    rows = []
    for number in range(start, end + 1):
        text = lines[number - 1]
        if len(text) > LINE_CHARS:
            text = f"{text[:LINE_CHARS]}... ({len(text) - LINE_CHARS} more characters on this line)"
        rows.append(f"{number:>{width}}: {text}")
    return "\n".join(rows)
