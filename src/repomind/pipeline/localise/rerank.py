"""Optional re-rankers: a second look at the fused ranking's head, by a cross-encoder or by the LLM.

A re-ranker scores the top ``RankConfig.rerank_depth`` files for the issue; its order joins the fusion as
the ``rerank`` signal (weight ``rerank`` in ``--weights``), so it moves files within the head without
erasing what the other signals saw. Calibrations record which re-ranker made their scores
(:func:`describe`), and a localiser refuses a calibration made with another one.

- :class:`CrossEncoderReranker`: a sequence-classification model from a local folder (for example a
  cross-encoder such as ms-marco-MiniLM, saved with ``save_pretrained``), through transformers. torch and
  transformers are imported only when it first scores.
- :class:`LLMReranker`: the pipeline's language model (litellm or any :class:`LanguageModel`) is shown the
  candidates and answers with the files most likely to change, best first. A reply that names no candidate
  leaves the ranking as it was, and says so in the note.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jinja2

from repomind.pipeline.llm import Budget, LanguageModel, Message
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.templating import environment


class RerankError(LocaliseError):
    """A re-ranker's answer could not be used; the ranking stays as the other signals made it."""


@dataclass(frozen=True)
class Candidate:
    """A file to re-rank: its path and a short text (module docstring and definitions)."""

    path: str
    text: str


class Reranker(Protocol):
    """Scores candidates for an issue: higher is more likely to change; same order as ``candidates``."""

    @property
    def name(self) -> str: ...

    def scores(self, issue: str, candidates: Sequence[Candidate]) -> list[float]: ...


class CrossEncoderReranker:
    """A local sequence-classification model scoring (issue, file) pairs."""

    def __init__(self, path: Path, *, max_length: int = 256, batch_size: int = 16) -> None:
        if not (path / "config.json").is_file():
            raise LocaliseError(f"re-ranker {path} is not a model folder (no config.json)")
        self.path = path
        self.max_length = max_length
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def name(self) -> str:
        return f"cross-encoder:{self.path.name}"

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            try:
                from transformers import AutoModelForSequenceClassification, AutoTokenizer
            except ImportError:
                raise LocaliseError(
                    "the cross-encoder re-ranker needs transformers: pip install 'repomind[embed]'"
                ) from None
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.path))
            self._model = AutoModelForSequenceClassification.from_pretrained(str(self.path)).eval()
        return self._model, self._tokenizer

    def scores(self, issue: str, candidates: Sequence[Candidate]) -> list[float]:
        import torch

        model, tokenizer = self._load()
        result: list[float] = []
        for start in range(0, len(candidates), self.batch_size):
            batch = candidates[start : start + self.batch_size]
            encoded = tokenizer(
                [issue] * len(batch),
                [c.text for c in batch],
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            with torch.inference_mode():
                logits = model(**encoded).logits
            # One output: its logit; a classifier: the probability of its last label ("relevant").
            values = logits[:, 0] if logits.shape[-1] == 1 else logits.softmax(-1)[:, -1]
            result.extend(float(v) for v in values)
        return result


def _templates() -> jinja2.Environment:
    return environment("repomind.pipeline.localise")


@dataclass
class LLMReranker:
    """Asks the language model which candidates the fix will change; its usage is charged to ``budget``."""

    model: LanguageModel
    budget: Budget = field(default_factory=Budget)
    max_issue_chars: int = 6000

    @property
    def name(self) -> str:
        return f"llm:{self.model.name}"

    def messages(self, issue: str, candidates: Sequence[Candidate]) -> list[Message]:
        env = _templates()
        return [
            {"role": "system", "content": env.get_template("rerank_system.md.j2").render()},
            {
                "role": "user",
                "content": env.get_template("rerank_user.md.j2").render(
                    issue=issue[: self.max_issue_chars], candidates=candidates
                ),
            },
        ]

    def scores(self, issue: str, candidates: Sequence[Candidate]) -> list[float]:
        self.budget.check()
        completion = self.model.complete(self.messages(issue, candidates))
        self.budget.charge(completion)
        order = parse_choice(completion.text, [c.path for c in candidates])
        if not order:
            raise RerankError("the model's reply named none of the candidate files")
        position = {path: rank for rank, path in enumerate(order)}
        # Named files score by their place in the answer; the rest -inf: the re-ranker says nothing of them.
        return [float(len(order) - position[c.path]) if c.path in position else -math.inf for c in candidates]


_PATHISH = re.compile(r"[\w./-]+\.\w+")


def parse_choice(reply: str, paths: Sequence[str]) -> list[str]:
    """The candidate paths a reply names, in the order it names them (a JSON list, or paths in text).

    Paths are matched exactly, then by a unique suffix (``core.py`` for ``pkg/core.py``); anything else is
    ignored, so a reply cannot bring in a file that was not offered.
    """
    known = set(paths)
    named: list[str] = []
    items: list[Any]
    try:
        data = json.loads(_json_part(reply))
        items = data if isinstance(data, list) else data.get("files", []) if isinstance(data, dict) else []
    except ValueError:
        items = _PATHISH.findall(reply)
    for item in items:
        text = str(item).strip().strip("`'\"").removeprefix("./")
        match = text if text in known else _by_suffix(text, paths)
        if match and match not in named:
            named.append(match)
    return named


def _json_part(reply: str) -> str:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", reply, re.S)
    text = fenced.group(1) if fenced else reply
    start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=-1)
    return text[start:] if start >= 0 else text


def _by_suffix(text: str, paths: Sequence[str]) -> str | None:
    if not text:
        return None
    hits = [p for p in paths if p.endswith("/" + text)]
    return hits[0] if len(hits) == 1 else None


def describe(reranker: Reranker | None) -> str:
    """What calibrations record about the re-ranker: its name, or ``none``."""
    return reranker.name if reranker is not None else "none"


def make_reranker(
    spec: str | None, *, default_model: str | None, api_base: str | None
) -> CrossEncoderReranker | LLMReranker | None:
    """The re-ranker a spec names (``cross-encoder:PATH``, ``llm``, ``llm:MODEL``); None for no spec.

    ``llm`` without a model uses ``default_model`` (``REPOMIND_MODEL`` at the composition roots).
    """
    if not spec:
        return None
    kind, argument = parse_spec(spec)
    if kind == "cross-encoder":
        return CrossEncoderReranker(Path(argument))
    from repomind.pipeline.llm import LiteLLMModel

    model = argument or default_model
    if not model:
        raise LocaliseError(f"re-ranker {spec!r} needs a model: llm:MODEL or REPOMIND_MODEL")
    return LLMReranker(LiteLLMModel(model, api_base=api_base, max_tokens=400))


def parse_spec(spec: str) -> tuple[str, str]:
    """``cross-encoder:PATH``, ``llm`` or ``llm:MODEL`` → (kind, argument)."""
    kind, _, argument = spec.partition(":")
    if kind not in ("cross-encoder", "llm") or (kind == "cross-encoder" and not argument):
        raise LocaliseError(f"--rerank {spec!r}: expected cross-encoder:PATH, llm or llm:MODEL")
    return kind, argument


__all__ = [
    "Candidate",
    "CrossEncoderReranker",
    "LLMReranker",
    "RerankError",
    "Reranker",
    "describe",
    "make_reranker",
    "parse_choice",
    "parse_spec",
]
