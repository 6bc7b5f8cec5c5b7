"""How actions travel between the loop and the model: natively (OpenAI tool calls) or as text.

``native``: the tools are offered with every request, the model answers ``tool_calls``, and each result
goes back as a ``tool`` message answering its call. ``text``: the instructions (:func:`render_text_format`,
rendered on first use) are in the prompt, the model answers one fenced ``action`` block, and each result
goes back as a user message ``Observation: ...``. ``auto`` picks native where the model supports it.
"""

from __future__ import annotations

import functools
from typing import Literal

from repomind.pipeline.agent.actions import TOOLS, Action, text_action
from repomind.pipeline.llm import Completion, LanguageModel, Message, supports_native_tools
from repomind.templating import environment

Protocol = Literal["native", "text"]
Setting = Literal["auto", "native", "text"]


def choose_protocol(model: LanguageModel, setting: Setting) -> Protocol:
    """``setting`` itself, or for ``auto`` native exactly when the model calls tools natively."""
    if setting == "auto":
        return "native" if supports_native_tools(model) else "text"
    return setting


def assistant_message(completion: Completion, protocol: Protocol) -> Message:
    """The model's reply as it goes back into the conversation (with its native tool calls, if any)."""
    message: Message = {"role": "assistant", "content": completion.text}
    if protocol == "native" and completion.tool_calls:
        message["tool_calls"] = [call.to_openai() for call in completion.tool_calls]
    return message


def observation_messages(action: Action | None, text: str, protocol: Protocol) -> list[Message]:
    """The result of ``action`` (``None``: a reply without a valid action) as the next message(s)."""
    if protocol == "native" and action is not None and action.call_id:
        return [{"role": "tool", "tool_call_id": action.call_id, "content": text}]
    return [{"role": "user", "content": "Observation:\n" + text}]


def no_action_messages(completion: Completion, text: str, protocol: Protocol) -> list[Message]:
    """The observation for a reply that gave no valid action (``text``: the ``NoAction`` message).

    In the native protocol every tool call of the assistant's message must be answered by a ``tool``
    message (providers refuse the next request otherwise), so each of its calls gets ``text``."""
    if protocol == "native" and completion.tool_calls:
        return [{"role": "tool", "tool_call_id": c.id, "content": text} for c in completion.tool_calls]
    return observation_messages(None, text, protocol)


@functools.cache
def render_text_format() -> str:
    """The text protocol's instructions, listing each tool's signature (``templates/text_format.md.j2``)."""
    template = environment("repomind.pipeline.agent").get_template("text_format.md.j2")
    return template.render(
        tools=TOOLS,
        example=text_action("view", {"path": "src/app.py", "line": 40, "after": 60}),
        edit_example=text_action(
            "edit", {"path": "src/app.py", "search": "    return a - b\n", "replace": "    return a + b\n"}
        ),
    ).strip()
