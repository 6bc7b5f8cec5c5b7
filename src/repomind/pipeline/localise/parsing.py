"""tree-sitter parsing of one file into what localisation needs: definitions, imports, calls, docstrings.

Python is parsed fully; JavaScript/TypeScript, Go, Java and Rust get a skeleton (their definitions) through
tree-sitter-language-pack, which bundles its grammars (0.13.0: later releases download them at run time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
}

_PY_QUERY = """
(class_definition name: (identifier) @class.name) @class
(function_definition name: (identifier) @function.name) @function
(import_statement name: (dotted_name) @import)
(import_statement name: (aliased_import name: (dotted_name) @import))
(import_from_statement module_name: (_) @import.from) @import.stmt
(call function: (identifier) @call)
(call function: (attribute attribute: (identifier) @call))
"""

_QUOTES = re.compile(r"^[rRbBuUfF]{0,2}(\"\"\"|\'\'\'|\"|\')|(\"\"\"|\'\'\'|\"|\')$")

# Node types that define something, per language, for skeletons.
_DEF_TYPES = {
    "javascript": (
        "function_declaration",
        "class_declaration",
        "method_definition",
        "generator_function_declaration",
    ),
    "typescript": (
        "function_declaration",
        "class_declaration",
        "method_definition",
        "interface_declaration",
        "type_alias_declaration",
        "enum_declaration",
        "abstract_class_declaration",
    ),
    "go": ("function_declaration", "method_declaration", "type_spec"),
    "java": (
        "class_declaration",
        "interface_declaration",
        "method_declaration",
        "enum_declaration",
        "constructor_declaration",
        "record_declaration",
    ),
    "rust": ("function_item", "struct_item", "enum_item", "trait_item", "impl_item", "mod_item", "type_item"),
}
_DEF_TYPES["tsx"] = _DEF_TYPES["typescript"]


@dataclass(frozen=True)
class Definition:
    """A class, function or method (or another language's equivalent) with its lines (1-based, inclusive)."""

    name: str
    qualname: str
    kind: str
    start: int
    end: int
    doc: str = ""


@dataclass
class FileSummary:
    """What one file contributes to the index; cached by blob SHA."""

    language: str
    definitions: list[Definition] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    doc: str = ""
    lines: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "definitions": [[d.name, d.qualname, d.kind, d.start, d.end, d.doc] for d in self.definitions],
            "imports": self.imports,
            "calls": self.calls,
            "doc": self.doc,
            "lines": self.lines,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileSummary:
        return cls(
            language=data["language"],
            definitions=[Definition(*d) for d in data["definitions"]],
            imports=list(data["imports"]),
            calls=list(data["calls"]),
            doc=data["doc"],
            lines=int(data["lines"]),
        )


def language_of(path: str) -> str | None:
    dot = path.rfind(".")
    return LANGUAGES.get(path[dot:].lower()) if dot >= 0 else None


@cache
def _parser(language: str) -> Any:
    from tree_sitter_language_pack import get_parser

    return get_parser(language)  # type: ignore[arg-type]


@cache
def _python_query() -> Any:
    from tree_sitter import Query
    from tree_sitter_language_pack import get_language

    return Query(get_language("python"), _PY_QUERY)


def parse(path: str, source: bytes) -> FileSummary | None:
    """Summarise ``source``; None for a language without a grammar here."""
    language = language_of(path)
    if language is None:
        return None
    tree = _parser(language).parse(source)
    lines = source.count(b"\n") + 1
    if language == "python":
        return _python(tree.root_node, lines)
    return _skeleton(language, tree.root_node, lines)


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _docstring(body: Any) -> str:
    if body is None or body.named_child_count == 0:
        return ""
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_child_count:
        first = first.named_children[0]
    if first.type != "string":
        return ""
    text = _QUOTES.sub("", _text(first))
    return " ".join(text.split())[:300]


def _qualname(node: Any, name: str) -> str:
    parts = [name]
    parent = node.parent
    while parent is not None:
        if parent.type in ("class_definition", "function_definition"):
            parts.append(_text(parent.child_by_field_name("name")))
        parent = parent.parent
    return ".".join(reversed(parts))


def _python(root: Any, lines: int) -> FileSummary:
    from tree_sitter import QueryCursor

    summary = FileSummary("python", lines=lines, doc=_docstring(root))
    calls: set[str] = set()
    for _, captures in QueryCursor(_python_query()).matches(root):
        if "class" in captures or "function" in captures:
            kind = "class" if "class" in captures else "function"
            node = captures[kind][0]
            name = _text(captures[f"{kind}.name"][0])
            qualname = _qualname(node, name)
            if kind == "function" and "." in qualname:
                kind = "method"
            summary.definitions.append(
                Definition(
                    name,
                    qualname,
                    kind,
                    node.start_point[0] + 1,
                    node.end_point[0] + 1,
                    _docstring(node.child_by_field_name("body")),
                )
            )
        elif "import" in captures:
            summary.imports.append(_text(captures["import"][0]))
        elif "import.from" in captures:
            summary.imports.append(_text(captures["import.from"][0]).replace(" ", ""))
        elif "call" in captures:
            calls.add(_text(captures["call"][0]))
    summary.definitions.sort(key=lambda d: d.start)
    summary.calls = sorted(calls)
    return summary


def _skeleton(language: str, root: Any, lines: int) -> FileSummary:
    summary = FileSummary(language, lines=lines)
    wanted = _DEF_TYPES.get(language, ())
    stack = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        for child in node.named_children:
            if child.type in wanted:
                name_node = child.child_by_field_name("name") or child.child_by_field_name("type")
                name = _text(name_node) or child.type
                qualname = f"{prefix}.{name}" if prefix else name
                kind = (
                    "class"
                    if any(k in child.type for k in ("class", "struct", "interface", "impl"))
                    else "function"
                )
                summary.definitions.append(
                    Definition(name, qualname, kind, child.start_point[0] + 1, child.end_point[0] + 1)
                )
                stack.append((child, qualname))
            elif child.named_child_count:
                stack.append((child, prefix))
    summary.definitions.sort(key=lambda d: d.start)
    return summary
