"""Tokenised training rows: the loss only on the assistant's target tokens, short examples packed together.

Pure Python over token ids (no torch): the trainer turns rows into tensors. A packed row holds several
examples back to back; its ``position_ids`` restart at 0 for each, which is how transformers (>= 4.54)
recognises packed sequences and keeps each example from attending to its neighbours (with SDPA, eager or
flash attention, when no attention mask is passed).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

IGNORE = -100
#: ChatML, for a tokenizer that has no chat template of its own.
FALLBACK_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class Tokenised:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def targets(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


@dataclass
class Row:
    """One training row: examples back to back, each with positions from 0, padded to a fixed length."""

    input_ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    position_ids: list[int] = field(default_factory=list)
    examples: int = 0
    #: Tokens of real examples (the rest is padding).
    real: int = 0

    @property
    def used(self) -> int:
        return len(self.input_ids)

    def add(self, item: Tokenised) -> None:
        self.input_ids += item.input_ids
        self.labels += item.labels
        self.position_ids += list(range(len(item)))
        self.examples += 1
        self.real += len(item)

    def padded(self, length: int, pad_id: int) -> Row:
        # Padding continues the last example's positions: real tokens never see it (it comes after them),
        # and an unpacked row stays one causal sequence, which lets SDPA use its fastest kernel.
        extra = length - self.used
        start = self.position_ids[-1] + 1 if self.position_ids else 0
        return Row(
            self.input_ids + [pad_id] * extra,
            self.labels + [IGNORE] * extra,
            self.position_ids + list(range(start, start + extra)),
            self.examples,
            self.real,
        )


def _ids(result: Any) -> list[int]:
    if isinstance(result, Mapping) or hasattr(result, "keys"):
        result = result["input_ids"]
    return [int(x) for x in result]


def ensure_chat_template(tokenizer: Any) -> None:
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE


def prompt_ids(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> list[int]:
    """The ids of ``messages`` followed by the start of an assistant turn (what generation continues)."""
    ensure_chat_template(tokenizer)
    return _ids(tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True))


def tokenise(tokenizer: Any, messages: Sequence[Mapping[str, str]], max_len: int) -> Tokenised | None:
    """The conversation with labels on the last (assistant) turn only; None when longer than ``max_len``."""
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError("a supervised example ends with the assistant's turn")
    prompt = prompt_ids(tokenizer, messages[:-1])
    full = _ids(tokenizer.apply_chat_template(list(messages), tokenize=True))
    if full[: len(prompt)] == prompt and len(full) > len(prompt):
        target = full[len(prompt) :]
    else:  # a template that renders the last turn differently once it is complete: tokenise it alone
        target = _ids(tokenizer(messages[-1]["content"], add_special_tokens=False))
        if tokenizer.eos_token_id is not None:
            target.append(int(tokenizer.eos_token_id))
    if len(prompt) + len(target) > max_len:
        return None
    return Tokenised(prompt + target, [IGNORE] * len(prompt) + target)


def knows_tools(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template renders tool calls (else :func:`text_turns` is used)."""
    template = getattr(tokenizer, "chat_template", None)
    return isinstance(template, str) and "tool_calls" in template


def _action(call: Mapping[str, Any]) -> str:
    function = call.get("function") or {}
    try:
        args = json.loads(function.get("arguments") or "{}")
    except ValueError:
        args = function.get("arguments")
    return "```action\n" + json.dumps({"tool": function.get("name", ""), "args": args}) + "\n```"


def text_turns(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """An agent's conversation for a chat template that knows no tools, in the agent's text protocol: a
    tool call as a fenced ``action`` block after the turn's text, a tool's result as a user turn
    ``Observation: ...``."""
    out: list[dict[str, str]] = []
    for m in messages:
        content = str(m.get("content") or "")
        if m.get("tool_calls"):
            parts = [content.strip(), *(_action(call) for call in m["tool_calls"])]
            out.append({"role": "assistant", "content": "\n\n".join(p for p in parts if p)})
        elif m.get("role") == "tool":
            out.append({"role": "user", "content": f"Observation:\n{content}"})
        else:
            out.append({"role": str(m.get("role")), "content": content})
    return out


def tokenise_turns(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    max_len: int,
    tools: Sequence[Mapping[str, Any]] = (),
) -> Tokenised | None:
    """A multi-turn conversation (an agent's trajectory) with labels on every assistant turn; None when
    longer than ``max_len``. A template that knows no tools gets :func:`text_turns`; one whose rendering of
    a prefix is not a prefix of the whole falls back to labelling the last turn only (:func:`tokenise`)."""
    ensure_chat_template(tokenizer)
    native = knows_tools(tokenizer)
    turns: list[Any] = list(messages) if native else text_turns(messages)
    if not turns or turns[-1]["role"] != "assistant":
        raise ValueError("a supervised example ends with the assistant's turn")
    extra = {"tools": list(tools)} if native and tools else {}

    def render(part: list[Any], generation: bool = False) -> list[int]:
        return _ids(
            tokenizer.apply_chat_template(part, add_generation_prompt=generation, tokenize=True, **extra)
        )

    full = render(turns)
    if len(full) > max_len:
        return None
    labels = [IGNORE] * len(full)
    for i, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        start = render(turns[:i], generation=True)
        end = render(turns[: i + 1]) if i + 1 < len(turns) else full
        if full[: len(start)] != start or full[: len(end)] != end or len(end) <= len(start):
            return tokenise(tokenizer, turns, max_len)
        labels[len(start) : len(end)] = full[len(start) : len(end)]
    return Tokenised(full, labels)


def pack(items: Sequence[Tokenised], max_len: int, pad_id: int) -> list[Row]:
    """First-fit decreasing: the fewest rows of ``max_len`` tokens that hold every item."""
    rows: list[Row] = []
    for item in sorted(items, key=len, reverse=True):
        for row in rows:
            if row.used + len(item) <= max_len:
                row.add(item)
                break
        else:
            row = Row()
            row.add(item)
            rows.append(row)
    return [row.padded(max_len, pad_id) for row in rows]


def unpacked(items: Sequence[Tokenised]) -> list[Row]:
    """One example per row, unpadded (a batch is padded to its longest row)."""
    rows = []
    for item in items:
        row = Row()
        row.add(item)
        rows.append(row)
    return rows


def batches(rows: Sequence[Row], batch_size: int, pad_id: int, *, seed: int | None = None) -> list[list[Row]]:
    """Rows in batches, each padded to its longest row; shuffled when ``seed`` is given."""
    order = list(rows)
    if seed is not None:
        random.Random(seed).shuffle(order)
    out = []
    for start in range(0, len(order), batch_size):
        group = order[start : start + batch_size]
        width = max(r.used for r in group)
        out.append([r.padded(width, pad_id) for r in group])
    return out
