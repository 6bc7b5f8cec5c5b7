"""The LLM seam: a ``LanguageModel`` Protocol, its litellm implementation, and a per-run budget.

The real model goes through litellm, so any provider works by model string, and any OpenAI-compatible
server (vLLM, llama.cpp, Ollama, ``repomind llm serve``) by ``api_base`` with the ``openai/`` prefix.
Prices come from litellm's local price map only (``LITELLM_LOCAL_MODEL_COST_MAP=True`` is set before the
import); a model it does not know has an unknown cost (``None``), never zero.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Required, TypedDict

from repomind.errors import RepomindError

#: A dummy key for local OpenAI-compatible servers, which need one to be sent but check none.
LOCAL_API_KEY = "sk-repomind-local"
TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class Message(TypedDict, total=False):
    """One chat message in the OpenAI format. ``role`` and ``content`` are always there; an assistant
    message that called tools natively carries ``tool_calls`` (:meth:`ToolCall.to_openai` each), and a
    tool's result is a ``tool`` message answering one call by its ``tool_call_id``."""

    role: Required[Literal["system", "user", "assistant", "tool"]]
    content: Required[str]
    tool_calls: list[dict[str, Any]]
    tool_call_id: str


@dataclass(frozen=True)
class ToolCall:
    """One native tool call of a reply; ``arguments`` is the raw JSON text as the model sent it."""

    id: str
    name: str
    arguments: str

    def to_openai(self) -> dict[str, Any]:
        """The call as an assistant message's ``tool_calls`` item."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Completion:
    """One reply and what it cost. ``cost_usd`` is ``None`` when the model's price is unknown.

    ``tool_calls`` holds the native tool calls of the reply (none when no tools were offered, or the
    model answered in text)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    model: str
    seconds: float
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LanguageModel(Protocol):
    """Answers a conversation, offered ``tools`` (OpenAI function tools) to call when given.

    One real implementation (:class:`LiteLLMModel`), one fake (``ScriptedModel``). Whether a model calls
    tools natively is :func:`supports_native_tools`."""

    @property
    def name(self) -> str: ...

    def complete(
        self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None
    ) -> Completion: ...


class LLMError(RepomindError):
    """The model could not be called (a bad key, an unknown model, a server that keeps failing)."""

    def __init__(self, message: str, *, transient: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class BudgetExceeded(RepomindError):
    """The run's token or dollar budget is spent: the run stops and reports what it has."""


@dataclass
class Budget:
    """Tokens and dollars a run may spend. A limit of ``None`` is no limit."""

    max_tokens: int | None = None
    max_usd: float | None = None
    tokens: int = 0
    usd: float = 0.0
    unpriced_calls: int = 0
    notes: list[str] = field(default_factory=list)

    def check(self, upcoming_tokens: int = 0) -> None:
        """Raise :class:`BudgetExceeded` when the budget is spent, or would be by ``upcoming_tokens``."""
        if self.max_tokens is not None and self.tokens + upcoming_tokens > self.max_tokens:
            spent = f"{self.tokens} tokens spent"
            more = f", the next prompt needs about {upcoming_tokens} more" if upcoming_tokens else ""
            raise BudgetExceeded(f"token budget of {self.max_tokens} exhausted ({spent}{more})")
        if self.max_usd is not None and self.usd >= self.max_usd:
            raise BudgetExceeded(f"dollar budget of ${self.max_usd:g} exhausted (${self.usd:.4f} spent)")

    def charge(self, completion: Completion) -> None:
        self.tokens += completion.tokens
        if completion.cost_usd is None:
            self.unpriced_calls += 1
            if self.max_usd is not None and self.unpriced_calls == 1:
                self.notes.append(
                    f"the price of {completion.model} is unknown: the dollar budget cannot be enforced"
                )
        else:
            self.usd += completion.cost_usd

    @property
    def cost_usd(self) -> float | None:
        """Dollars spent, or ``None`` when any call had an unknown price."""
        return None if self.unpriced_calls else round(self.usd, 6)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "max_usd": self.max_usd,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "notes": list(self.notes),
        }


def estimate_tokens(messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None) -> int:
    """A rough token count (four characters a token) to stop before a call that cannot fit the budget.

    Counts each message's content and the names and arguments of its tool calls, and the ``tools``
    offered with them (their JSON), when given."""
    chars = sum(_message_chars(m) for m in messages)
    if tools:
        chars += len(json.dumps(list(tools)))
    return chars // 4 + 4 * len(messages)


def _message_chars(message: Message) -> int:
    chars = len(message.get("content") or "")
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        chars += len(str(function.get("name") or "")) + len(str(function.get("arguments") or ""))
    return chars


def supports_native_tools(model: LanguageModel) -> bool:
    """Whether ``model`` calls tools natively (OpenAI function calling), from its ``native_tools``.

    :class:`LiteLLMModel` asks litellm's model map; the fakes say what they were built with; a model that
    says nothing gets the text protocol."""
    return getattr(model, "native_tools", False) is True


class LiteLLMModel:
    """A model reached through litellm: any provider by model string, or a local OpenAI-compatible server."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 600.0,
        retries: int = 3,
        backoff_s: float = 2.0,
        max_tokens: int | None = None,
        temperature: float | None = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not model.strip():
            raise LLMError("no model given: pass --model or set REPOMIND_MODEL (a litellm model string)")
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        if api_key:
            from repomind.redact import SECRETS

            SECRETS.add(api_key)  # the key this model sends is redacted wherever it might surface
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self.model

    @property
    def native_tools(self) -> bool:
        """Whether litellm knows the model to support function calling (an error there: it does not)."""
        try:
            return bool(_litellm().supports_function_calling(model=self.model))
        except Exception:  # noqa: BLE001 - litellm raises assorted errors for models it does not know
            return False

    def complete(
        self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None
    ) -> Completion:
        attempt = 0
        while True:
            try:
                return self._call(messages, tools)
            except LLMError as exc:
                if not exc.transient or attempt >= self.retries:
                    raise
                attempt += 1
                self._sleep(self.backoff_s * 2 ** (attempt - 1))

    def _call(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None) -> Completion:
        litellm = _litellm()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "timeout": self.timeout_s,
            "num_retries": 0,  # retries are ours, on transient errors only
            "max_retries": 0,
        }
        if tools:
            kwargs["tools"] = [dict(t) for t in tools]
        if self.api_base:
            kwargs["api_base"] = self.api_base
        key = self.api_key or (LOCAL_API_KEY if self.api_base and not self._key_in_env(litellm) else None)
        if key:
            kwargs["api_key"] = key
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        import openai  # litellm's exceptions derive from the OpenAI client's

        start = time.monotonic()
        try:
            response = litellm.completion(**kwargs)
        except openai.OpenAIError as exc:
            raise _classify(exc) from exc
        seconds = time.monotonic() - start
        message = response.choices[0].message
        text = message.content or ""
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=price(self.model, prompt_tokens, completion_tokens),
            model=self.model,
            seconds=seconds,
            tool_calls=_tool_calls(getattr(message, "tool_calls", None)),
        )

    def _key_in_env(self, litellm: Any) -> bool:
        try:
            return bool(litellm.validate_environment(model=self.model).get("keys_in_environment"))
        except Exception:  # noqa: BLE001 - litellm raises assorted errors for unknown providers: no key then
            return False


def _tool_calls(calls: Any) -> tuple[ToolCall, ...]:
    """The native tool calls of a reply message (litellm's objects), with their arguments as JSON text."""
    found: list[ToolCall] = []
    for n, call in enumerate(calls or ()):
        function = getattr(call, "function", None)
        name = getattr(function, "name", None)
        if not name:
            continue
        arguments = getattr(function, "arguments", None)
        if not isinstance(arguments, str):  # some providers send an object, or nothing for no arguments
            arguments = json.dumps(arguments if arguments is not None else {})
        found.append(
            ToolCall(id=str(getattr(call, "id", None) or f"call_{n}"), name=str(name), arguments=arguments)
        )
    return tuple(found)


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Dollars for these tokens from litellm's local price map, or ``None`` when the model is not in it."""
    litellm = _litellm()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001 - litellm raises plain Exception for a model without a price
        return None
    return float(prompt_cost) + float(completion_cost)


def _classify(exc: Exception) -> LLMError:
    """Transient (connection, timeout, 429, 5xx) errors are retried; anything else (4xx) is not."""
    litellm = _litellm()
    errors = litellm.exceptions
    status = getattr(exc, "status_code", None)
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, errors.APIConnectionError | errors.Timeout) or "Connection error" in detail:
        return LLMError(f"cannot reach the model: {detail}", transient=True, status=status)
    if isinstance(exc, errors.AuthenticationError | errors.PermissionDeniedError):
        return LLMError(f"the model refused the credentials: {detail}", status=status)
    if isinstance(status, int) and status in TRANSIENT_STATUS:
        return LLMError(f"the model server failed ({status}): {detail}", transient=True, status=status)
    return LLMError(f"the model call failed ({status or 'error'}): {detail}", status=status)


def _litellm() -> Any:
    """Import litellm lazily (it is slow), never letting it fetch its price map from the internet."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm
