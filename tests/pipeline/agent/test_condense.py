"""The per-step context limit keeps the conversation's shape and the newest observations."""

from __future__ import annotations

import json

from repomind.pipeline.agent.condense import condense
from repomind.pipeline.llm import Message, estimate_tokens


def conversation(steps: int, size: int) -> list[Message]:
    messages: list[Message] = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "issue " * 200},
    ]
    for n in range(steps):
        call = {
            "id": f"c{n}",
            "type": "function",
            "function": {
                "name": "edit",
                "arguments": json.dumps({"path": "a.py", "search": "x" * size, "replace": "y"}),
            },
        }
        messages.append({"role": "assistant", "content": f"thought {n}", "tool_calls": [call]})
        messages.append(
            {"role": "tool", "tool_call_id": f"c{n}", "content": f"observation {n} " + "z" * size}
        )
    return messages


def test_under_the_limit_nothing_changes() -> None:
    messages = conversation(2, 100)
    assert condense(messages, 10_000) == messages


def test_old_observations_are_condensed_first_and_the_newest_kept() -> None:
    messages = conversation(20, 4000)
    limit = estimate_tokens(messages) // 3
    out = condense(messages, limit)
    assert estimate_tokens(out) <= limit
    assert [m["role"] for m in out] == [m["role"] for m in messages]  # every call keeps its answer
    assert [m.get("tool_call_id") for m in out] == [m.get("tool_call_id") for m in messages]
    assert out[-1]["content"] == messages[-1]["content"]  # the newest observation is whole
    assert out[3]["content"].startswith("[condensed")


def test_a_tight_limit_also_condenses_old_arguments_and_the_first_message() -> None:
    messages = conversation(30, 4000)  # about 61,000 tokens against the smallest allowed limit
    out = condense(messages, 4000)
    assert estimate_tokens(out) <= 4000
    assert [m["role"] for m in out] == [m["role"] for m in messages]
    args = json.loads(out[2]["tool_calls"][0]["function"]["arguments"])  # type: ignore[typeddict-item]
    assert args["search"].endswith("[condensed]")
