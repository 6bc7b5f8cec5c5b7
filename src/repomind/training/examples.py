"""Training examples: supervised chat conversations and preference records, in TRL's JSONL formats.

* :class:`Supervised`: ``messages`` (system, user, assistant); the assistant's turn is the target. An
  agent's trajectory is a multi-turn conversation with ``tools`` (OpenAI function tools): assistant turns
  with ``tool_calls`` (or, in the text protocol, an ``action`` block) and the observations as ``tool``
  (or ``user``) turns; every assistant turn is a target (:mod:`repomind.training.from_agent`).
* :class:`Unpaired` (KTO): ``prompt`` messages, one ``completion`` and a ``label`` (accepted or not).
* :class:`Paired` (DPO): ``prompt`` messages with a ``chosen`` and a ``rejected`` completion.

Every example names its ``issue`` (``owner/repo#N``, a SWE-bench instance id, or a commit), which is what
the train/eval split keys on, and its ``source``. Targets are the search/replace blocks that the solve
pipeline's prompt asks for, so that a fine-tuned model answers in the format the pipeline parses.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from repomind.pipeline.edits.model import Edit, NoEditsError
from repomind.pipeline.edits.parse import parse_edits

#: A chat message: ``role`` and ``content``, and for an agent's turns ``tool_calls`` / ``tool_call_id``.
Message = dict[str, Any]
Kind = Literal["sft", "kto", "dpo"]


@dataclass
class Supervised:
    issue: str
    source: str
    messages: list[Message]
    meta: dict[str, Any] = field(default_factory=dict)
    kind: Kind = "sft"
    #: The function tools offered (an agent's trajectory); empty for a single-turn example.
    tools: list[dict[str, Any]] = field(default_factory=list)

    def content_key(self) -> str:
        return _digest([self.messages, *([self.tools] if self.tools else [])])


@dataclass
class Unpaired:
    issue: str
    source: str
    prompt: list[Message]
    completion: list[Message]
    label: bool
    meta: dict[str, Any] = field(default_factory=dict)
    kind: Kind = "kto"
    tools: list[dict[str, Any]] = field(default_factory=list)

    def content_key(self) -> str:
        return _digest([self.prompt, self.completion, self.label, *([self.tools] if self.tools else [])])


@dataclass
class Paired:
    issue: str
    source: str
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    meta: dict[str, Any] = field(default_factory=dict)
    kind: Kind = "dpo"

    def content_key(self) -> str:
        return _digest([self.prompt, self.chosen, self.rejected])


Example = Supervised | Unpaired | Paired
_TYPES: dict[str, type[Supervised] | type[Unpaired] | type[Paired]] = {
    "sft": Supervised,
    "kto": Unpaired,
    "dpo": Paired,
}


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def to_record(example: Example) -> dict[str, Any]:
    record = asdict(example)
    if not record.get("tools"):  # single-turn examples are written as before tools existed
        record.pop("tools", None)
    record["id"] = example.content_key()
    return record


def from_record(record: dict[str, Any]) -> Example:
    cls = _TYPES.get(str(record.get("kind", "sft")))
    if cls is None:
        raise ValueError(f"unknown example kind {record.get('kind')!r}")
    fields = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
    return cls(**fields)


def write_jsonl(path: Path, examples: Iterable[Example]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w") as fh:
        for example in examples:
            fh.write(json.dumps(to_record(example), sort_keys=True) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> Iterator[Example]:
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                yield from_record(json.loads(line))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a training example: {exc}") from exc


# -- targets ----------------------------------------------------------------------------------------
def _fence_for(path: str) -> str:
    return "python" if path.endswith(".py") else ""


def render_blocks(edits: Iterable[Edit]) -> str:
    """Edits as the SEARCH/REPLACE blocks the solve prompt asks for."""
    parts = []
    for edit in edits:
        if edit.delete:
            continue
        parts.append(
            f"{edit.path}\n```{_fence_for(edit.path)}\n<<<<<<< SEARCH\n{edit.search}=======\n"
            f"{edit.replace}>>>>>>> REPLACE\n```"
        )
    return "\n\n".join(parts)


def blocks_from_diff(diff: str) -> str | None:
    """A unified diff as search/replace blocks; None when it has no text hunk (empty, binary, deletions)."""
    try:
        edits = [e for e in parse_edits(diff) if not e.delete]
    except NoEditsError:
        return None
    for i, edit in enumerate(edits):
        # A diff hunk's lines end with a newline except at a file's missing final newline: keep blocks whole.
        if edit.search and not edit.search.endswith("\n"):
            edits[i] = Edit(edit.path, edit.search + "\n", edit.replace + "\n", source=edit.source)
    return render_blocks(edits) if edits else None


def target_text(diff: str, explanation: str = "") -> str | None:
    blocks = blocks_from_diff(diff)
    if blocks is None:
        return None
    lead = explanation.strip()
    return f"{lead}\n\n{blocks}" if lead else blocks


_WS = re.compile(r"[ \t]+")


def _norm(text: str) -> str:
    lines = [_WS.sub(" ", line).rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(line for line in lines if line).strip()


def edit_signature(text: str) -> frozenset[tuple[str, str, str]] | None:
    """The edits of a reply or diff, whitespace-normalised and unordered: two answers with the same
    signature make the same change. None when no edit can be read."""
    try:
        edits = parse_edits(text)
    except NoEditsError:
        return None
    return frozenset((e.path.strip(), _norm(e.search), _norm(e.replace)) for e in edits if not e.delete)


def same_patch(a: str, b: str) -> bool:
    sa, sb = edit_signature(a), edit_signature(b)
    return sa is not None and sa == sb
