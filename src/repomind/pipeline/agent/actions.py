"""The agent's actions: reading a reply into actions, and holding each to its tool's signature.

The tools themselves (:data:`TOOL_NAMES`, :data:`TOOL_SPECS`) are :mod:`repomind.pipeline.agent.specs`,
re-exported here. A reply names its action either natively (``Completion.tool_calls``) or in the text
protocol: one fenced block tagged ``action`` holding ``{"tool": NAME, "args": {...}}``. Both are read
leniently (see :mod:`repomind.pipeline.agent.lenient`), and :func:`check_args` then holds the action to
its tool's signature. A reply that holds no usable action raises :class:`NoAction`, whose text is the
observation that tells the model exactly what was wrong and how to reply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from repomind.errors import RepomindError
from repomind.pipeline.agent.lenient import NotAnObject, loads_object, object_span
from repomind.pipeline.agent.specs import TOOL_BY_NAME, TOOL_NAMES, TOOL_SPECS, TOOLS, Param, Tool
from repomind.pipeline.llm import Completion

__all__ = [
    "TOOLS",
    "TOOL_NAMES",
    "TOOL_SPECS",
    "Action",
    "NoAction",
    "actions_from_completion",
    "check_args",
    "parse_text_action",
    "text_action",
]

EXAMPLE_ARGS: dict[str, Any] = {"path": "src/app.py", "line": 40}
_TAGS = frozenset({"action", "tool", "tool_call"})
_FENCE = re.compile(r"```[ \t]*([^\n`]*)\n")
_NAME_KEYS = ("tool", "name", "action", "function")
_ARGS_KEYS = ("args", "arguments", "parameters", "input")


def text_action(tool: str, args: dict[str, Any]) -> str:
    """An action written in the text protocol: one fenced block tagged ``action``."""
    return "```action\n" + json.dumps({"tool": tool, "args": args}) + "\n```"


HOW_TO_REPLY = (
    "reply with your reasoning, then exactly one block like\n"
    + text_action("view", EXAMPLE_ARGS)
    + f'\nwhere "tool" is one of {", ".join(TOOL_NAMES)} and "args" holds its arguments as a JSON object'
)


@dataclass(frozen=True)
class Action:
    tool: str
    args: dict[str, Any]
    thought: str = ""
    call_id: str | None = None


class NoAction(RepomindError):
    """The reply holds no valid action; ``str(exc)`` is the observation to send back to the model."""


def parse_text_action(text: str) -> Action:
    """The first action of a text-protocol reply; the text around it is the thought.

    Lenient: a fence tagged ``action`` (also ``json action``, ``tool``), else any fenced JSON object or
    bare object in the text with a ``"tool"``; ``"arguments"`` for ``"args"``; the other keys as the
    arguments when there is no ``"args"``."""
    tagged_error: str | None = None
    for match in _FENCE.finditer(text):
        if not _TAGS & set(re.split(r"[\s,]+", match.group(1).strip().lower())):
            continue
        start = _skip_space(text, match.end())
        if not text.startswith("{", start):
            tagged_error = "the action block does not start with a JSON object '{'"
            break
        try:
            return _action_at(text, match.start(), start)
        except NotAnObject as exc:
            tagged_error = f"the action block is not a readable JSON object: {exc}"
            break
    if tagged_error is not None:
        raise NoAction(f"no valid action: {tagged_error}; {HOW_TO_REPLY}")
    for brace in (m.start() for m in re.finditer(r"\{", text)):
        try:
            return _action_at(text, _fence_before(text, brace), brace)
        except NotAnObject:
            continue
    raise NoAction(f"no valid action: the reply holds no action block; {HOW_TO_REPLY}")


def actions_from_completion(completion: Completion) -> list[Action]:
    """The reply's native tool calls as actions (the reply's text their thought), or else its text action."""
    if not completion.tool_calls:
        return [parse_text_action(completion.text)]
    actions = []
    for call in completion.tool_calls:
        try:
            args = loads_object(call.arguments) if call.arguments.strip() else {}
        except NotAnObject as exc:
            tool = TOOL_BY_NAME.get(call.name)
            how = f"call {tool.signature}" if tool else f"call one of {', '.join(TOOL_NAMES)}"
            raise NoAction(
                f"no valid action: the arguments of your {call.name} call are not a JSON object ({exc}); "
                f"{how} with its arguments as one JSON object"
            ) from None
        actions.append(Action(call.name, args, completion.text.strip(), call.id))
    return actions


def check_args(action: Action) -> Action:
    """``action`` held to its tool's signature, defaults filled in; :class:`NoAction` says what is wrong."""
    tool = TOOL_BY_NAME.get(action.tool)
    if tool is None:
        raise NoAction(
            f"no valid action: there is no tool {action.tool!r}; the tools are "
            + "; ".join(t.signature for t in TOOLS)
        )
    call = f"call it as {tool.signature}"
    known = {p.name for p in tool.params}
    unknown = sorted(set(action.args) - known)
    if unknown:
        raise NoAction(
            f"no valid action: {tool.name} has no argument {', '.join(map(repr, unknown))}; {call}"
        )
    args: dict[str, Any] = {}
    for param in tool.params:
        value = action.args.get(param.name)
        if value is None:
            if param.required:
                raise NoAction(f"no valid action: {tool.name} needs the argument {param.name!r}; {call}")
            args[param.name] = param.default
            continue
        args[param.name] = _coerce(tool, param, value, call)
    return replace(action, args=args)


def _coerce(tool: Tool, param: Param, value: Any, call: str) -> Any:
    wrong = f"no valid action: {tool.name}'s argument {param.name!r} must be"
    if param.type == "string":
        if not isinstance(value, str):
            raise NoAction(f"{wrong} a string, not {json.dumps(value)[:80]}; {call}")
        return value
    if param.type == "integer":
        number = _integer(value)
        if number is None:
            raise NoAction(f"{wrong} an integer, not {json.dumps(value)[:80]}; {call}")
        if param.minimum is not None and number < param.minimum:
            raise NoAction(f"{wrong} at least {param.minimum}, not {number}; {call}")
        return number
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise NoAction(f"{wrong} a list of strings, not {json.dumps(value)[:80]}; {call}")
    return items or None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def _action_at(text: str, block_start: int, brace: int) -> Action:
    """The action whose object starts at ``brace``; its fenced block (or the bare object) starts at
    ``block_start``; everything else in ``text`` is the thought."""
    span = object_span(text, brace) or text[brace:]
    obj = loads_object(span)
    name = next((obj.pop(k) for k in _NAME_KEYS if isinstance(obj.get(k), str)), None)
    if name is None:
        raise NotAnObject('it has no "tool"')
    args: Any = next((obj.pop(k) for k in _ARGS_KEYS if k in obj), None)
    if isinstance(args, str):  # arguments sent as JSON text inside the JSON
        args = loads_object(args)
    inner_thought = obj.pop("thought", None)
    if args is None:
        args = obj  # {"tool": "view", "path": "a.py"}: the other keys are the arguments
    if not isinstance(args, dict):
        raise NotAnObject('its "args" is not an object')
    end = brace + len(span)
    if block_start != brace:  # fenced: the block ends at its closing fence
        close = text.find("```", end)
        end = close + 3 if close >= 0 and not text[end:close].strip() else end
    thought = (text[:block_start].strip() + "\n\n" + text[end:].strip()).strip()
    if isinstance(inner_thought, str) and inner_thought.strip():
        thought = (thought + "\n\n" + inner_thought.strip()).strip()
    return Action(name, args, thought)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _fence_before(text: str, brace: int) -> int:
    """Where the fence opening right before ``brace`` starts, or ``brace`` for a bare object."""
    fence = text.rfind("```", 0, brace)
    if fence >= 0 and re.fullmatch(r"```[ \t]*[\w \t-]*\n\s*", text[fence:brace]):
        return fence
    return brace
