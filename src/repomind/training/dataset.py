"""A dataset from examples: scrubbed, de-duplicated, split by issue, measured, hashed, with a card.

Layout of a dataset directory::

    sft-train.jsonl  sft-eval.jsonl   supervised conversations
    kto-train.jsonl  kto-eval.jsonl   unpaired accepted/rejected completions
    dpo-train.jsonl  dpo-eval.jsonl   paired preferences
    dataset.json                      the manifest: hash, counts, sources, token statistics, split rule
    README.md                         the dataset card (the manifest for people)

The split is by issue, decided by a hash of the issue key alone: an issue's examples are all in train or
all in eval, and the same issue lands on the same side in every dataset built later. The dataset hash
covers every example and its side, so it identifies a dataset: the training queue is idempotent by it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from repomind.training.card import render_card
from repomind.training.examples import Example, Paired, Supervised, Unpaired, read_jsonl, write_jsonl
from repomind.training.scrub import Scrubber

KINDS = ("sft", "kto", "dpo")
SPLITS = ("train", "eval")
MANIFEST = "dataset.json"
#: Tokens are estimated as characters / 4 when no tokenizer is given (stated in the manifest).
CHARS_PER_TOKEN = 4
TokenCounter = Callable[[str], int]
_WS = re.compile(r"\s+")


@dataclass
class DatasetInfo:
    path: Path
    hash: str
    counts: dict[str, dict[str, int]]
    sources: dict[str, int]
    issues: dict[str, int]
    tokens: dict[str, Any]
    dropped: dict[str, int] = field(default_factory=dict)
    scrubbed: int = 0
    created: str = ""
    description: str = ""

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    def to_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "counts": self.counts,
            "sources": self.sources,
            "issues": self.issues,
            "tokens": self.tokens,
            "dropped": self.dropped,
            "scrubbed": self.scrubbed,
            "created": self.created,
            "description": self.description,
            "split": "by issue: sha256('repomind-split:' + issue) as a fraction < eval_fraction is eval",
        }


def eval_side(issue: str, eval_fraction: float) -> bool:
    """Whether ``issue`` is held out: a fixed hash of the issue key alone, so it never changes side."""
    digest = hashlib.sha256(f"repomind-split:{issue}".encode()).hexdigest()
    return int(digest[:8], 16) / 0x1_0000_0000 < eval_fraction


def _message_text(message: dict[str, Any]) -> str:
    """A message's text, with its tool calls (name and arguments) when it has any."""
    calls = message.get("tool_calls") or []
    return str(message.get("content") or "") + "".join(
        f"\n{call.get('function', {}).get('name', '')}({call.get('function', {}).get('arguments', '')})"
        for call in calls
        if isinstance(call, dict)
    )


def _texts(example: Example) -> list[str]:
    if isinstance(example, Supervised):
        messages = example.messages
    elif isinstance(example, Unpaired):
        messages = [*example.prompt, *example.completion]
    else:
        messages = [*example.prompt, *example.chosen, *example.rejected]
    tools = getattr(example, "tools", None) or []
    return [*(_message_text(m) for m in messages), *([json.dumps(tools, sort_keys=True)] if tools else [])]


def _dedup_key(example: Example) -> str:
    parts = [example.kind, *(_WS.sub(" ", t).strip() for t in _texts(example))]
    if isinstance(example, Unpaired):
        parts.append(str(example.label))
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _stats(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "min": ordered[0],
        "median": pick(0.5),
        "p90": pick(0.9),
        "max": ordered[-1],
        "total": sum(ordered),
    }


def _split_issues(issues: Iterable[str], eval_fraction: float) -> set[str]:
    keys = sorted(set(issues))
    held = {i for i in keys if eval_side(i, eval_fraction)}
    if not held and len(keys) >= 2:  # keep an eval side: the issue whose hash is smallest
        held = {min(keys, key=lambda i: hashlib.sha256(f"repomind-split:{i}".encode()).hexdigest())}
    if len(held) == len(keys) and len(keys) >= 2:  # and a train side
        held.discard(max(keys, key=lambda i: hashlib.sha256(f"repomind-split:{i}".encode()).hexdigest()))
    return held


def build_dataset(
    examples: Iterable[Example],
    out: Path,
    *,
    eval_fraction: float = 0.1,
    scrubber: Scrubber | None = None,
    count_tokens: TokenCounter | None = None,
    tokenizer_name: str | None = None,
    max_tokens: int | None = None,
    description: str = "",
) -> DatasetInfo:
    """Scrub, de-duplicate, split by issue and write ``examples`` under ``out``; the dataset's info."""
    scrubber = scrubber or Scrubber()
    counter = count_tokens or (lambda text: max(1, len(text) // CHARS_PER_TOKEN))
    unique: dict[str, Example] = {}
    dropped: Counter[str] = Counter()
    for raw in examples:
        example = scrubber.example(raw)
        key = _dedup_key(example)
        if key in unique:
            dropped["duplicate"] += 1
            # Keep the same one of the duplicates whatever the order they came in.
            if example.content_key() >= unique[key].content_key():
                continue
        unique[key] = example
    kept: list[tuple[Example, int]] = []
    for example in unique.values():
        length = sum(counter(t) for t in _texts(example))
        if max_tokens is not None and length > max_tokens:
            dropped["too-long"] += 1
            continue
        kept.append((example, length))
    held = _split_issues((e.issue for e, _ in kept), eval_fraction)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    digest = hashlib.sha256()
    for kind in KINDS:
        counts[kind] = {}
        for split in SPLITS:
            chosen = sorted(
                (e for e, _ in kept if e.kind == kind and (e.issue in held) == (split == "eval")),
                key=lambda e: (e.issue, e.content_key()),
            )
            counts[kind][split] = write_jsonl(out / f"{kind}-{split}.jsonl", chosen)
            for example in chosen:
                digest.update(f"{kind}/{split}/{e_key(example)}\n".encode())
    lengths = {kind: _stats([n for e, n in kept if e.kind == kind]) for kind in KINDS}
    info = DatasetInfo(
        path=out,
        hash=digest.hexdigest(),
        counts=counts,
        sources=dict(sorted(Counter(e.source for e, _ in kept).items())),
        issues={"train": len({e.issue for e, _ in kept} - held), "eval": len(held)},
        tokens={
            "counter": tokenizer_name or f"estimate: characters / {CHARS_PER_TOKEN}",
            "per_example": lengths,
            "max_tokens": max_tokens,
        },
        dropped=dict(dropped),
        scrubbed=scrubber.hits,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        description=description,
    )
    (out / MANIFEST).write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    (out / "README.md").write_text(render_card(info.to_dict()))
    return info


def e_key(example: Example) -> str:
    return _dedup_key(example)


def load_info(path: Path) -> DatasetInfo:
    """The info of a dataset directory (its manifest); ValueError when ``path`` is not one."""
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise ValueError(f"{path} is not a Repomind dataset (no {MANIFEST})")
    data = json.loads(manifest.read_text())
    return DatasetInfo(
        path=path,
        hash=data["hash"],
        counts=data["counts"],
        sources=data["sources"],
        issues=data["issues"],
        tokens=data["tokens"],
        dropped=data.get("dropped", {}),
        scrubbed=data.get("scrubbed", 0),
        created=data.get("created", ""),
        description=data.get("description", ""),
    )


def load_split(path: Path, kind: str, split: str) -> list[Example]:
    file = path / f"{kind}-{split}.jsonl"
    return list(read_jsonl(file)) if file.is_file() else []


__all__ = [
    "DatasetInfo",
    "Paired",
    "Supervised",
    "Unpaired",
    "build_dataset",
    "eval_side",
    "load_info",
    "load_split",
]
