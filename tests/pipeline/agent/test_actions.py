"""Reading a model's reply into the agent's actions: the text protocol (lenient), native tool calls, and
the check of each action against its tool's signature, with the observation a bad reply gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from repomind.pipeline.agent.actions import (
    TOOL_NAMES,
    TOOL_SPECS,
    Action,
    NoAction,
    actions_from_completion,
    check_args,
    parse_text_action,
    text_action,
)
from repomind.pipeline.agent.lenient import NotAnObject, loads_object
from repomind.pipeline.llm import Completion, ToolCall
from repomind.testing import tool_call


def completion(text: str = "", *calls: ToolCall) -> Completion:
    return Completion(text, 10, 5, None, "m", 0.1, tuple(calls))


def test_the_tool_specs_are_the_issue_s_contract() -> None:
    assert TOOL_NAMES == ("search", "view", "edit", "run_tests", "submit")
    functions = {s["function"]["name"]: s["function"] for s in TOOL_SPECS}
    assert all(s["type"] == "function" for s in TOOL_SPECS) and list(functions) == list(TOOL_NAMES)
    params = {name: f["parameters"] for name, f in functions.items()}
    assert {n: list(p["properties"]) for n, p in params.items()} == {
        "search": ["regex", "path_glob"],
        "view": ["path", "line", "before", "after"],
        "edit": ["path", "search", "replace"],
        "run_tests": ["targets"],
        "submit": ["summary"],
    }
    assert {n: p["required"] for n, p in params.items()} == {
        "search": ["regex"],
        "view": ["path"],
        "edit": ["path", "search", "replace"],
        "run_tests": [],
        "submit": ["summary"],
    }
    view = params["view"]["properties"]
    assert (view["line"]["default"], view["before"]["default"], view["after"]["default"]) == (1, 0, 100)
    assert params["run_tests"]["properties"]["targets"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": params["run_tests"]["properties"]["targets"]["description"],
    }
    assert all(f["description"] for f in functions.values())
    json.dumps(TOOL_SPECS)  # plain JSON, as litellm sends it


def test_a_tagged_block_with_reasoning_around_it() -> None:
    reply = (
        'The parser lives in a.py.\n```action\n{"tool": "view", "args": {"path": "a.py", "line": 3}}\n```\nok'
    )
    action = parse_text_action(reply)
    assert action == Action("view", {"path": "a.py", "line": 3}, "The parser lives in a.py.\n\nok")


@pytest.mark.parametrize(
    ("reply", "tool", "args"),
    [
        ('```json action\n{"tool": "view", "arguments": {"path": "a.py",},}\n```', "view", {"path": "a.py"}),
        ('```action\n{"tool": "search", "args": {"regex": "x", "path_glob": None}}\n```', "search", None),
        ("```action\n{'tool': 'view', 'args': {'path': 'a.py', 'line': True}}\n```", "view", None),
        ('```json\n{"tool": "submit", "args": {"summary": "done"}}\n```', "submit", {"summary": "done"}),
        ('I will submit. {"tool": "submit", "args": {"summary": "done"}}', "submit", {"summary": "done"}),
        ('```action\n{"tool": "view", "path": "b.py", "line": 2}\n```', "view", {"path": "b.py", "line": 2}),
        ('```action\n{"tool": "view", "args": "{\\"path\\": \\"c.py\\"}"}\n```', "view", {"path": "c.py"}),
        ('```action\n{"name": "run_tests", "arguments": {"targets": ["t.py"]}}```', "run_tests", None),
        # raw newlines inside a string, as models write code
        (
            '```action\n{"tool": "edit", "args": '
            '{"path": "a.py", "search": "x = 1\n", "replace": "x = 2\n"}}\n```',
            "edit",
            {"path": "a.py", "search": "x = 1\n", "replace": "x = 2\n"},
        ),
    ],
)
def test_lenient_blocks(reply: str, tool: str, args: dict[str, Any] | None) -> None:
    action = parse_text_action(reply)
    assert action.tool == tool
    if args is not None:
        assert action.args == args
    assert action.call_id is None


def test_python_literals_become_their_json_values() -> None:
    action = parse_text_action(
        '```action\n{"tool": "search", "args": {"regex": "None", "path_glob": None,}}\n```'
    )
    assert action.args == {"regex": "None", "path_glob": None}  # the word inside a string is kept


def test_a_fence_inside_a_string_does_not_end_the_block() -> None:
    args = {"path": "README.md", "search": "```py\nold\n```", "replace": "```py\nnew\n```"}
    action = parse_text_action("Fix the example.\n" + text_action("edit", args) + "\nDone.")
    assert action == Action("edit", args, "Fix the example.\n\nDone.")


def test_two_blocks_the_first_counts_and_the_rest_is_thought() -> None:
    first, second = text_action("view", {"path": "a.py"}), text_action("view", {"path": "b.py"})
    action = parse_text_action(f"Look at both.\n{first}\n{second}")
    assert action.args == {"path": "a.py"}
    assert action.thought.startswith("Look at both.") and '"b.py"' in action.thought


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("I think the bug is in a.py.", "the reply holds no action block"),
        ("```action\nview a.py\n```", "the action block does not start with a JSON object"),
        (
            '```action\n{"tool": "view", "args": {"path": "a.py"\n```',
            "the action block is not a readable JSON",
        ),
        ('```action\n{"args": {"path": "a.py"}}\n```', 'it has no "tool"'),
        ('```action\n{"tool": "view", "args": ["a.py"]}\n```', 'its "args" is not an object'),
    ],
)
def test_bad_blocks_say_what_is_wrong_and_how_to_reply(reply: str, why: str) -> None:
    with pytest.raises(NoAction) as caught:
        parse_text_action(reply)
    message = str(caught.value)
    assert message.startswith("no valid action: ") and why in message
    assert '```action\n{"tool": "view", "args": {"path": "src/app.py", "line": 40}}\n```' in message
    assert "search, view, edit, run_tests, submit" in message


def test_native_tool_calls_become_actions_with_their_ids() -> None:
    reply = completion(
        "Let me look.",
        ToolCall("call_1", "view", '{"path": "a.py", "line": 5}'),
        ToolCall("call_2", "search", '{"regex": "def f",}'),  # a trailing comma: lenient
        ToolCall("call_3", "run_tests", ""),  # no arguments at all
    )
    assert actions_from_completion(reply) == [
        Action("view", {"path": "a.py", "line": 5}, "Let me look.", "call_1"),
        Action("search", {"regex": "def f"}, "Let me look.", "call_2"),
        Action("run_tests", {}, "Let me look.", "call_3"),
    ]


def test_without_tool_calls_the_text_is_read() -> None:
    scripted = tool_call("submit", "All done.", summary="fixed")
    assert actions_from_completion(completion(scripted.as_text())) == [
        Action("submit", {"summary": "fixed"}, "All done.")
    ]
    with pytest.raises(NoAction, match="holds no action block"):
        actions_from_completion(completion("just words"))


def test_native_arguments_that_are_not_an_object() -> None:
    with pytest.raises(NoAction) as caught:
        actions_from_completion(completion("", ToolCall("c", "view", '{"path": "a.py"')))
    assert "the arguments of your view call are not a JSON object" in str(caught.value)
    assert "call view(path: str, line: int = 1, before: int = 0, after: int = 100)" in str(caught.value)
    with pytest.raises(NoAction, match=r"not a JSON object \(it does not start with '{'\)"):
        actions_from_completion(completion("", ToolCall("c", "view", '["a.py"]')))


def test_check_args_fills_defaults_and_coerces() -> None:
    view = check_args(Action("view", {"path": "a.py", "line": "12"}, "t", "id"))
    assert view == Action("view", {"path": "a.py", "line": 12, "before": 0, "after": 100}, "t", "id")
    assert check_args(Action("search", {"regex": "x"})).args == {"regex": "x", "path_glob": None}
    assert check_args(Action("run_tests", {"targets": "tests/t.py"})).args == {"targets": ["tests/t.py"]}
    assert check_args(Action("run_tests", {})).args == {"targets": None}
    assert check_args(Action("run_tests", {"targets": []})).args == {"targets": None}
    assert check_args(Action("view", {"path": "a.py", "after": 20.0})).args["after"] == 20
    edit = {"path": "new.py", "search": "", "replace": "x = 1\n"}  # an empty search creates a file
    assert check_args(Action("edit", edit)).args == edit


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (Action("open", {"path": "a.py"}), "there is no tool 'open'; the tools are search(regex: str"),
        (Action("view", {"file": "a.py"}), "view has no argument 'file'; call it as view(path: str, line"),
        (Action("view", {}), "view needs the argument 'path'; call it as view(path: str"),
        (Action("edit", {"path": "a.py", "search": "x"}), "edit needs the argument 'replace'"),
        (Action("view", {"path": 3}), "view's argument 'path' must be a string, not 3"),
        (Action("view", {"path": "a", "line": "ten"}), "'line' must be an integer, not \"ten\""),
        (Action("view", {"path": "a", "line": True}), "'line' must be an integer, not true"),
        (Action("view", {"path": "a", "line": 0}), "'line' must be at least 1, not 0"),
        (Action("view", {"path": "a", "after": -5}), "'after' must be at least 0, not -5"),
        (Action("run_tests", {"targets": [1]}), "'targets' must be a list of strings, not [1]"),
        (Action("submit", {"summary": None}), "submit needs the argument 'summary'"),
    ],
)
def test_check_args_errors_are_precise(action: Action, message: str) -> None:
    with pytest.raises(NoAction) as caught:
        check_args(action)
    assert str(caught.value).startswith("no valid action: ") and message in str(caught.value)


def test_lenient_json_reads_literals_only() -> None:
    assert loads_object("{'a': (1, 2), 'b': '''x\ny'''}") == {"a": (1, 2), "b": "x\ny"}
    with pytest.raises(NotAnObject):
        loads_object("{'a': __import__('os').getcwd()}")  # never evaluated
    with pytest.raises(NotAnObject, match="does not start with"):
        loads_object("[1]")
