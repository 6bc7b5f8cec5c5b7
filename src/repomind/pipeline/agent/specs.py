"""The agent's five tools: each one's signature, description and OpenAI function spec, in one table.

:data:`TOOL_SPECS` is what the native protocol offers with every request; the text protocol's
instructions list the same signatures; :func:`repomind.pipeline.agent.actions.check_args` holds every
action to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ParamType = Literal["string", "integer", "array"]


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    description: str
    required: bool = True
    default: Any = None
    minimum: int | None = None

    @property
    def signature(self) -> str:
        kind = {"string": "str", "integer": "int", "array": "list[str]"}[self.type]
        if self.required:
            return f"{self.name}: {kind}"
        return (
            f"{self.name}: {kind} | None = None"
            if self.default is None
            else f"{self.name}: {kind} = {self.default!r}"
        )


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: tuple[Param, ...] = field(default=())

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(p.signature for p in self.params)})"

    def spec(self) -> dict[str, Any]:
        """The OpenAI function tool."""
        properties: dict[str, Any] = {}
        for p in self.params:
            schema: dict[str, Any] = {"type": p.type, "description": p.description}
            if p.type == "array":
                schema["items"] = {"type": "string"}
            if p.minimum is not None:
                schema["minimum"] = p.minimum
            if p.default is not None:
                schema["default"] = p.default
            properties[p.name] = schema
        parameters = {
            "type": "object",
            "properties": properties,
            "required": [p.name for p in self.params if p.required],
            "additionalProperties": False,
        }
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }


TOOLS: tuple[Tool, ...] = (
    Tool(
        "search",
        "Search the repository's files: a regular expression matched against file paths and against the "
        "lines of the files (git grep semantics). Returns the first 100 matches of each kind as "
        "`path:line: text`, and how many were left out.",
        (
            Param("regex", "string", "The regular expression (Perl syntax), e.g. `def parse_\\w+`."),
            Param(
                "path_glob",
                "string",
                "Only files matching this git pathspec glob, e.g. `src/**/*.py`. Omit to search everything.",
                required=False,
            ),
        ),
    ),
    Tool(
        "view",
        "Show a file: its outline (top-level and class-level definitions with their line numbers) and its "
        "numbered lines from `line - before` to `line + after`. A file must be shown before it is edited.",
        (
            Param("path", "string", "The file's path relative to the repository root."),
            Param("line", "integer", "The line to show around (1 is the first).", False, 1, 1),
            Param("before", "integer", "How many lines to show before `line`.", False, 0, 0),
            Param("after", "integer", "How many lines to show after `line`.", False, 100, 0),
        ),
    ),
    Tool(
        "edit",
        "Replace one exact, unique piece of a file shown before (copy `search` from the file, with its "
        "indentation) with `replace`; an empty `search` creates a new file holding `replace`. Returns "
        "whether it applied, the changed lines with their numbers, and the new lint problems.",
        (
            Param("path", "string", "The file's path relative to the repository root."),
            Param("search", "string", "The exact text to replace (empty: create the file)."),
            Param("replace", "string", "The text to put in its place."),
        ),
    ),
    Tool(
        "run_tests",
        "Run tests in the sandbox on the current files. Returns each test's outcome and the failing "
        "tests' output.",
        (
            Param(
                "targets",
                "array",
                "Test node ids or test file paths, e.g. `tests/test_x.py::test_y`. Omit to run the tests "
                "the verification would choose.",
                required=False,
            ),
        ),
    ),
    Tool(
        "submit",
        "Finish: the change is verified by the tests (a failure comes back to you). Submit once the fix "
        "is complete.",
        (Param("summary", "string", "What you changed and why, in a few sentences."),),
    ),
)
TOOL_BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}
TOOL_NAMES: tuple[str, ...] = tuple(TOOL_BY_NAME)
TOOL_SPECS: list[dict[str, Any]] = [t.spec() for t in TOOLS]
