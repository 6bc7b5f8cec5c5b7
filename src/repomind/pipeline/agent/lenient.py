"""Lenient reading of the JSON objects a model writes: what ``json`` refuses but the intent is plain.

Accepted beyond strict JSON: raw newlines and tabs inside strings, trailing commas, Python's ``True`` /
``False`` / ``None``, and Python literals (single-quoted and triple-quoted strings). Nothing is evaluated:
the last resort is :func:`ast.literal_eval`, which reads literals only.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_DECODER = json.JSONDecoder(strict=False)  # strict=False: control characters (raw newlines) in strings
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_WORDS = {"True": "true", "False": "false", "None": "null"}
_PY_WORDS = {v: k for k, v in _WORDS.items()}


class NotAnObject(ValueError):
    """The text holds no readable JSON object; ``str()`` says why, in words a model can act on."""


def object_span(text: str, start: int) -> str | None:
    """The text of the balanced ``{...}`` starting at ``text[start]`` (quotes respected), or ``None``."""
    depth = 0
    quote = ""
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote) - 1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1
    return None


def loads_object(text: str) -> dict[str, Any]:
    """``text`` (one object, possibly with text after it) read leniently; :class:`NotAnObject` otherwise."""
    text = text.strip()
    if not text.startswith("{"):
        raise NotAnObject("it does not start with '{'")
    span = object_span(text, 0) or text
    first_error: Exception | None = None
    for candidate in (span, _outside_strings(span, _jsonish)):
        try:
            value, _ = _DECODER.raw_decode(candidate)
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
            continue
        return _as_object(value)
    try:
        value = ast.literal_eval(_outside_strings(span, _pythonish))
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise NotAnObject(f"it is not valid JSON ({first_error})") from None
    return _as_object(value)


def _as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NotAnObject(f"it is a {type(value).__name__}, not an object")
    return {str(k): v for k, v in value.items()}


def _jsonish(chunk: str) -> str:
    chunk = _TRAILING_COMMA.sub(r"\1", chunk)
    return re.sub(r"\b(True|False|None)\b", lambda m: _WORDS[m.group(1)], chunk)


def _pythonish(chunk: str) -> str:
    return re.sub(r"\b(true|false|null)\b", lambda m: _PY_WORDS[m.group(1)], chunk)


def _outside_strings(text: str, change: Any) -> str:
    """``text`` with ``change`` applied to the parts outside quoted strings only."""
    out: list[str] = []
    plain_start = 0
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif text.startswith(quote, i):
                i += len(quote)
                out.append(text[plain_start:i])
                plain_start = i
                quote = ""
                continue
        elif ch in "\"'":
            out.append(change(text[plain_start:i]))
            plain_start = i
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        i += 1
    tail = text[plain_start:]
    out.append(tail if quote else change(tail))
    return "".join(out)
