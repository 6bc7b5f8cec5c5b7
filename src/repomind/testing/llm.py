"""Fakes of the model boundary, for tests: :class:`ScriptedModel` (an in-process
:class:`repomind.pipeline.llm.LanguageModel`), :class:`StandInLLMServer` (an OpenAI-compatible server on
loopback that answers with scripted replies) and :class:`HashingEmbedder` (the embedder's stand-in).

litellm is pointed at it with ``api_base=server.url`` and a model ``openai/<name>``; it serves
``POST /v1/chat/completions`` (and ``/chat/completions``), answers the scripted replies in order, and
records every request so that a test can assert what each prompt contained (and which ``tools`` it
offered). A scripted reply is a text, a :class:`ScriptedToolCalls` (native tool calls, made with
:func:`tool_call`) or, for the server, a :class:`ScriptedHTTPError`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from repomind.llm_server import ChatServer, completion_payload, error_payload
from repomind.pipeline.llm import Completion, LLMError, Message, ToolCall


@dataclass(frozen=True)
class ScriptedHTTPError:
    """A scripted failure: the server answers this status (and message) instead of a reply."""

    status: int
    message: str = "scripted failure"


@dataclass(frozen=True)
class ScriptedToolCalls:
    """A scripted reply that calls tools natively: ``calls`` are ``(name, arguments)`` pairs, ``text`` the
    reasoning sent beside them. Arguments given as a string are sent as they are (malformed JSON too)."""

    calls: tuple[tuple[str, dict[str, Any] | str], ...]
    text: str = ""

    def tool_calls(self, prefix: str) -> tuple[ToolCall, ...]:
        """The calls, with ids ``{prefix}_{index}``."""
        return tuple(
            ToolCall(f"{prefix}_{i}", name, args if isinstance(args, str) else json.dumps(args))
            for i, (name, args) in enumerate(self.calls)
        )

    def as_text(self) -> str:
        """The same reply in the agent's text protocol: the text, then one ``action`` block per call."""
        blocks = [
            "```action\n" + json.dumps({"tool": name, "args": args}) + "\n```" for name, args in self.calls
        ]
        return "\n\n".join([self.text, *blocks] if self.text else blocks)


def tool_call(name: str, text: str = "", **args: Any) -> ScriptedToolCalls:
    """One native tool call ``name(**args)``, with ``text`` as the reply's reasoning."""
    return ScriptedToolCalls(((name, args),), text)


Scripted = str | ScriptedHTTPError | ScriptedToolCalls


def count_tokens(text: str) -> int:
    """The stand-in's token count: one token per four characters, at least one for non-empty text."""
    return max(1, len(text) // 4) if text else 0


class StandInLLMServer(ChatServer):
    """Scripted replies in order; every request, path and Authorization header recorded."""

    model_name = "stand-in"

    def __init__(self, replies: Iterable[Scripted] = (), *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self._replies: list[Scripted] = list(replies)
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.authorization: list[str | None] = []

    def add(self, *replies: Scripted) -> None:
        with self._lock:
            self._replies.extend(replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._replies)

    def prompts(self) -> list[str]:
        """The text of each recorded request's messages, joined, in order."""
        return [_prompt_text(r.get("messages", [])) for r in self.requests]

    def answer(
        self, path: str, body: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            self.paths.append(path)
            self.authorization.append(authorization)
            scripted = self._replies.pop(0) if self._replies else None
            n = len(self.requests)
        if scripted is None:
            return 400, error_payload(
                "the stand-in server has no scripted reply left", "invalid_request_error"
            )
        if isinstance(scripted, ScriptedHTTPError):
            return scripted.status, error_payload(scripted.message, "server_error")
        prompt_tokens = count_tokens(_prompt_text(body["messages"]))
        model = str(body.get("model", self.model_name))
        if isinstance(scripted, ScriptedToolCalls):
            calls = scripted.tool_calls(f"call_{n}")
            return 200, completion_payload(
                model,
                scripted.text,
                prompt_tokens,
                count_tokens(_reply_text(scripted.text, calls)),
                n,
                tool_calls=[c.to_openai() for c in calls],
            )
        return 200, completion_payload(model, scripted, prompt_tokens, count_tokens(scripted), n)


@dataclass
class ScriptedModel:
    """A language model that answers ``replies`` in order and records every conversation it was given,
    and the tools offered with each (``None``: none).

    ``cost_per_token`` prices each token (``None``: an unknown price). Running out of replies is an error.
    ``native_tools`` is what :func:`repomind.pipeline.llm.supports_native_tools` says of it; built without
    them, it answers a :class:`ScriptedToolCalls` in the text protocol (:meth:`ScriptedToolCalls.as_text`),
    so that one script drives either protocol.
    """

    replies: list[str | ScriptedToolCalls]
    model: str = "scripted"
    cost_per_token: float | None = None
    conversations: list[list[Message]] = field(default_factory=list)
    native_tools: bool = True
    tools_offered: list[list[dict[str, Any]] | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model

    def complete(
        self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None
    ) -> Completion:
        self.conversations.append(list(messages))
        self.tools_offered.append(None if tools is None else [dict(t) for t in tools])
        if not self.replies:
            raise LLMError("the scripted model has no reply left")
        reply = self.replies.pop(0)
        calls: tuple[ToolCall, ...] = ()
        if isinstance(reply, ScriptedToolCalls):
            if self.native_tools:
                text, calls = reply.text, reply.tool_calls(f"call_{len(self.conversations)}")
            else:
                text = reply.as_text()
        else:
            text = reply
        prompt_tokens = count_tokens(_prompt_text(messages))
        completion_tokens = count_tokens(_reply_text(text, calls))
        cost = (
            None if self.cost_per_token is None else (prompt_tokens + completion_tokens) * self.cost_per_token
        )
        return Completion(text, prompt_tokens, completion_tokens, cost, self.model, 0.0, calls)

    def prompts(self) -> list[str]:
        return [_prompt_text(conv) for conv in self.conversations]


def _prompt_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """The messages' contents and tool calls' arguments, joined (what the stand-ins count tokens of)."""
    parts: list[str] = []
    for m in messages:
        parts.append(str(m.get("content") or ""))
        for call in m.get("tool_calls") or ():
            function = call.get("function") or {}
            parts.append(f"{function.get('name', '')}({function.get('arguments', '')})")
    return "\n".join(parts)


def _reply_text(text: str, calls: Sequence[ToolCall]) -> str:
    return "\n".join([text, *(f"{c.name}({c.arguments})" for c in calls)])


class HashingEmbedder:
    """A deterministic stand-in for the sentence-transformers embedder: hashed bags of words, unit length."""

    name = "hashing-64"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> Any:
        import re
        import zlib

        import numpy as np

        self.calls += len(texts)
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]{3,}", text.lower()):
                vectors[row, zlib.crc32(word.encode()) % 64] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)
