"""A run's artifacts under ``runs/<id>/``: each stage's JSON, the diff, the report, the trajectory.

``trajectory.jsonl`` holds one JSON object per event; its schema is documented in ``docs/trajectory.md``
and versioned by :data:`SCHEMA_VERSION` (bump it when a field changes meaning or disappears).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from repomind.redact import SECRETS, Redactor

SCHEMA_VERSION = 2
#: Versions :func:`read_trajectory` reads: 1 (no agent steps) and 2 (``agent-start`` and ``step`` lines,
#: ``attempts`` counting verifications).
READABLE_VERSIONS = (1, 2)

#: Line types of the trajectory, in the order a run writes them.
EVENT_TYPES = (
    "run-start",
    "localise",
    "environment",
    "prompt",
    "reply",
    "edits",
    "apply",
    "lint",
    "tests",
    "attempt-end",
    "budget-exceeded",
    "agent-start",
    "step",
    "run-end",
)


def new_run_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


class RunArtifacts:
    """Writes a run's files, each redacted before it is encoded: text as a whole (so a PEM block across
    lines is caught), JSON and trajectory events by walking the data (every string, keys too), through
    the process's :data:`repomind.redact.SECRETS` plus this run's ``redact`` values."""

    def __init__(self, directory: Path, run_id: str, *, redact: Sequence[str] = ()) -> None:
        self.dir = directory
        self.run_id = run_id
        self._redactor = Redactor(redact, parent=SECRETS)
        self._seq = 0
        directory.mkdir(parents=True, exist_ok=True)
        self._trajectory = directory / "trajectory.jsonl"
        self._trajectory.write_text("")

    def path(self, rel: str) -> Path:
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_text(self, rel: str, text: str) -> Path:
        path = self.path(rel)
        path.write_text(self.redact(text))
        return path

    def write_json(self, rel: str, data: Any) -> Path:
        path = self.path(rel)
        path.write_text(self._encode(data, indent=2) + "\n")
        return path

    def append(self, type_: str, attempt: int | None, **payload: Any) -> None:
        """Append one line to ``trajectory.jsonl`` (the run's events become lines through
        :class:`repomind.pipeline.solve.recorder.RunRecorder`)."""
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown trajectory event type {type_!r}")
        self._seq += 1
        record = {
            "schema": SCHEMA_VERSION,
            "run": self.run_id,
            "seq": self._seq,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "type": type_,
            "attempt": attempt,
            **payload,
        }
        with self._trajectory.open("a") as fh:
            fh.write(self._encode(record) + "\n")

    def redact(self, text: str) -> str:
        return self._redactor.text(text)

    def _encode(self, data: Any, *, indent: int | None = None) -> str:
        """JSON of ``data`` redacted before encoding (``value`` turns any non-JSON object into redacted
        text, so the encoder has nothing left to ``str()``)."""
        return json.dumps(self._redactor.value(data), indent=indent, sort_keys=False)


def read_trajectory(path: Path) -> list[dict[str, Any]]:
    """The events of a trajectory file, checking the schema version."""
    return parse_trajectory(path.read_text(), str(path))


def parse_trajectory(text: str, source: str = "trajectory.jsonl") -> list[dict[str, Any]]:
    """The events of a trajectory's text (``source`` names it in errors), checking the schema version."""
    events = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("schema") not in READABLE_VERSIONS:
            raise ValueError(
                f"{source}:{n}: schema {record.get('schema')!r}, expected one of {READABLE_VERSIONS}"
            )
        events.append(record)
    return events
