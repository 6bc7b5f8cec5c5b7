"""Fakes of the model boundary, for tests: :class:`ScriptedModel` (an in-process
:class:`repomind.pipeline.llm.LanguageModel`), :class:`StandInLLMServer` (an OpenAI-compatible server on
loopback that answers with scripted replies) and :class:`HashingEmbedder` (the embedder's stand-in).

litellm is pointed at it with ``api_base=server.url`` and a model ``openai/<name>``; it serves
``POST /v1/chat/completions`` (and ``/chat/completions``), answers the scripted replies in order, and
records every request so that a test can assert what each prompt contained.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from repomind.llm_server import ChatServer, completion_payload, error_payload
from repomind.pipeline.llm import Completion, LLMError, Message


@dataclass(frozen=True)
class ScriptedHTTPError:
    """A scripted failure: the server answers this status (and message) instead of a reply."""

    status: int
    message: str = "scripted failure"


Scripted = str | ScriptedHTTPError


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
        return ["\n".join(str(m.get("content", "")) for m in r.get("messages", [])) for r in self.requests]

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
        prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
        model = str(body.get("model", self.model_name))
        return 200, completion_payload(model, scripted, count_tokens(prompt), count_tokens(scripted), n)


@dataclass
class ScriptedModel:
    """A language model that answers ``replies`` in order and records every conversation it was given.

    ``cost_per_token`` prices each token (``None``: an unknown price). Running out of replies is an error.
    """

    replies: list[str]
    model: str = "scripted"
    cost_per_token: float | None = None
    conversations: list[list[Message]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model

    def complete(self, messages: Sequence[Message]) -> Completion:
        self.conversations.append(list(messages))
        if not self.replies:
            raise LLMError("the scripted model has no reply left")
        text = self.replies.pop(0)
        prompt_tokens = count_tokens("\n".join(m["content"] for m in messages))
        completion_tokens = count_tokens(text)
        cost = (
            None if self.cost_per_token is None else (prompt_tokens + completion_tokens) * self.cost_per_token
        )
        return Completion(text, prompt_tokens, completion_tokens, cost, self.model, 0.0)

    def prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in conv) for conv in self.conversations]


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
