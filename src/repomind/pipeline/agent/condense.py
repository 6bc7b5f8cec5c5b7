"""The per-step context limit: old observations (then old arguments, then the first message's file views)
are condensed so that the prompt stays under ``max_prompt_tokens``.

The conversation keeps its shape (every tool call keeps its answer, in order), so a native tool-calling
server accepts it; only the text of old turns shrinks. The latest ``keep`` observations are never touched
while anything older can still be condensed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from repomind.pipeline.llm import Message, estimate_tokens

#: Observations kept whole, newest first.
KEEP = 3
#: Characters of an old observation kept when it is condensed.
HEAD_CHARS = 240
#: Characters of one old argument value kept (edits' search and replace texts).
ARG_CHARS = 160
OMITTED = "[an earlier observation, omitted to fit the context]"
CUT = "\n\n[the rest of this message was cut to fit the context]"


def condense(messages: Sequence[Message], limit: int, *, reserve: int = 0) -> list[Message]:
    """``messages`` as they fit in ``limit`` tokens (less ``reserve``, the tools' own definitions)."""
    budget = limit - reserve
    out: list[Message] = [cast(Message, dict(m)) for m in messages]
    if estimate_tokens(out) <= budget:
        return out
    observations = [i for i, m in enumerate(out) if i >= 2 and m["role"] in ("tool", "user")]
    assistants = [i for i, m in enumerate(out) if i >= 2 and m["role"] == "assistant"]
    for keep in (KEEP, 1, 0):
        old = observations[: max(0, len(observations) - keep)]
        for i in old:
            out[i]["content"] = _shorten(out[i]["content"], i)
            if estimate_tokens(out) <= budget:
                return out
        last_kept = observations[-keep] if keep and len(observations) >= keep else len(out)
        for i in (a for a in assistants if a < last_kept):
            _shorten_call(out[i])
            if estimate_tokens(out) <= budget:
                return out
    for i in observations[:-1]:  # still over: old observations go, their calls stay
        out[i]["content"] = OMITTED
    for i in assistants:
        out[i]["content"] = out[i]["content"][:ARG_CHARS]
    if estimate_tokens(out) <= budget:
        return out
    for i in (1, *observations[-1:]):  # then the first message, and last the newest observation
        text = out[i]["content"]
        over = (estimate_tokens(out) - budget) * 4 + 200
        if over <= 0:
            break
        keep = max(len(text) - over, min(len(text), HEAD_CHARS))
        if keep < len(text):
            out[i]["content"] = text[:keep] + CUT
    return out


def _shorten(text: str, index: int) -> str:
    if text.startswith("[condensed") or len(text) <= HEAD_CHARS + 80:
        return text
    return f"[condensed: {len(text)} characters of an earlier observation; its start:]\n{text[:HEAD_CHARS]}"


def _shorten_call(message: Message) -> None:
    if len(message["content"]) > HEAD_CHARS * 2:
        message["content"] = message["content"][:HEAD_CHARS] + " [condensed]"
    calls = message.get("tool_calls")
    if not calls:
        return
    shortened: list[dict[str, Any]] = []
    for call in calls:
        call = dict(call)
        function = dict(call.get("function", {}))
        raw = str(function.get("arguments", ""))
        if len(raw) > ARG_CHARS * 2:
            function["arguments"] = _short_arguments(raw)
        call["function"] = function
        shortened.append(call)
    message["tool_calls"] = shortened


def _short_arguments(raw: str) -> str:
    try:
        args = json.loads(raw)
    except json.JSONDecodeError:
        return json.dumps({"condensed": raw[:ARG_CHARS]})
    if not isinstance(args, dict):
        return json.dumps({"condensed": raw[:ARG_CHARS]})
    short = {
        k: (v[:ARG_CHARS] + "…[condensed]" if isinstance(v, str) and len(v) > ARG_CHARS else v)
        for k, v in args.items()
    }
    return json.dumps(short)
