"""Secrets out of training data: the log's redaction patterns, a few more shapes, and known values.

A dataset is written once and may travel to a GPU host or into a model's weights, where nothing can be
taken back, so every string of every example passes through :class:`Scrubber` before it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from repomind.redact import PATTERNS as SECRET_PATTERNS
from repomind.redact import REDACTED, Redactor
from repomind.training.examples import Example

#: Shapes that appear in code rather than in logs.
EXTRA_PATTERNS = (
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API key
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # a signed JWT
    # key = "value" for names that say secret; the value long enough not to be a placeholder.
    re.compile(
        r"(?i)((?:api[_-]?key|secret(?:[_-]?key)?|password|passwd|access[_-]?token|auth[_-]?token)"
        r"\s*[:=]\s*['\"])[^'\"\s]{12,}(?=['\"])"
    ),
)

T = TypeVar("T")


@dataclass
class Scrubber:
    """Replace secret values and secret-shaped strings; ``hits`` counts the strings it changed."""

    secrets: list[str] = field(default_factory=list)
    hits: int = 0

    def __post_init__(self) -> None:
        self._redactor = Redactor(s for s in self.secrets if len(s) >= 8)

    def text(self, value: str) -> str:
        out = self._redactor(value)
        for pattern in EXTRA_PATTERNS:
            out = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, out)
        if out != value:
            self.hits += 1
        return out

    def value(self, value: T) -> T:
        if isinstance(value, str):
            return self.text(value)  # type: ignore[return-value]
        if isinstance(value, list):
            return [self.value(v) for v in value]  # type: ignore[return-value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}  # type: ignore[return-value]
        return value

    def example(self, example: Example) -> Example:
        changes: dict[str, Any] = {
            f.name: self.value(getattr(example, f.name)) for f in fields(example) if f.name != "kind"
        }
        return replace(example, **changes)


__all__ = ["EXTRA_PATTERNS", "REDACTED", "SECRET_PATTERNS", "Scrubber"]
