"""SWE-bench instances (:class:`~repomind.pipeline.instance.Instance`) and predictions, the official JSONL
formats, read strictly and written plainly."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repomind.eval.swebench.errors import EvalInputError
from repomind.pipeline.instance import Instance

KEY_ID, KEY_MODEL, KEY_PATCH = "instance_id", "model_name_or_path", "model_patch"
GOLD, EMPTY = "gold", "empty"
_REQUIRED = ("instance_id", "repo", "base_commit", "patch", "test_patch", "version")


@dataclass(frozen=True)
class Prediction:
    instance_id: str
    model: str
    patch: str

    def to_json(self) -> dict[str, str]:
        return {KEY_ID: self.instance_id, KEY_MODEL: self.model, KEY_PATCH: self.patch}


def _tests(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):  # the Hugging Face export stores these lists as JSON strings
        try:
            value = json.loads(value)
        except ValueError:
            raise EvalInputError(f"{where}: {key} is not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise EvalInputError(f"{where}: {key} must be a list of test names")
    return tuple(value)


def load_instances(path: Path, ids: Sequence[str] | None = None) -> list[Instance]:
    """The instances of a JSONL dataset (only ``ids`` when given, in the file's order)."""
    if not path.is_file():
        raise EvalInputError(f"dataset {path} does not exist")
    instances: list[Instance] = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise EvalInputError(f"{where}: not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise EvalInputError(f"{where}: not a JSON object")
        missing = [k for k in _REQUIRED if not isinstance(row.get(k), str)]
        if missing:
            raise EvalInputError(f"{where}: not a SWE-bench instance (missing {', '.join(missing)})")
        instances.append(
            Instance(
                instance_id=row["instance_id"],
                repo=row["repo"],
                base_commit=row["base_commit"],
                version=row["version"],
                patch=row["patch"],
                test_patch=row["test_patch"],
                fail_to_pass=_tests(row.get("FAIL_TO_PASS", []), where, "FAIL_TO_PASS"),
                pass_to_pass=_tests(row.get("PASS_TO_PASS", []), where, "PASS_TO_PASS"),
                problem_statement=str(row.get("problem_statement", "")),
                environment_setup_commit=str(row.get("environment_setup_commit") or ""),
            )
        )
    seen: set[str] = set()
    for instance in instances:
        if instance.instance_id in seen:
            raise EvalInputError(f"{path}: instance {instance.instance_id} appears twice")
        seen.add(instance.instance_id)
    if ids:
        unknown = [i for i in ids if i not in seen]
        if unknown:
            raise EvalInputError(f"not in {path}: {', '.join(unknown)}")
        wanted = set(ids)
        instances = [i for i in instances if i.instance_id in wanted]
    return instances


def parse_ids(text: str | None) -> list[str] | None:
    """``--instances a,b,c`` → ``["a", "b", "c"]``."""
    if not text:
        return None
    return [i.strip() for i in text.split(",") if i.strip()] or None


def builtin_predictions(kind: str, instances: Iterable[Instance]) -> dict[str, Prediction]:
    """``gold`` (each instance's own patch) or ``empty`` (no change at all)."""
    if kind == GOLD:
        return {i.instance_id: Prediction(i.instance_id, GOLD, i.patch) for i in instances}
    if kind == EMPTY:
        return {i.instance_id: Prediction(i.instance_id, EMPTY, "") for i in instances}
    raise EvalInputError(f"unknown built-in predictions {kind!r} (gold or empty)")


@dataclass(frozen=True)
class LoadedPredictions:
    """The predictions for the instances to evaluate, and the ids of those left out: predictions for
    instances not in the dataset (or not among ``--instances``), in the file's order."""

    predictions: dict[str, Prediction]
    left_out: tuple[str, ...] = ()


def load_predictions(path: Path, instances: Sequence[Instance]) -> LoadedPredictions:
    """Predictions in the official format (JSONL, or a JSON list). As the official harness, only those
    for ``instances`` are evaluated; the others are left out (and counted), not refused. A malformed row
    or a second prediction for one instance is refused."""
    if not path.is_file():
        raise EvalInputError(f"predictions file {path} does not exist")
    text = path.read_text(errors="replace")
    rows: list[tuple[str, Any]] = []
    if text.lstrip().startswith("["):
        try:
            rows = [(f"{path}[{n}]", r) for n, r in enumerate(json.loads(text))]
        except ValueError as exc:
            raise EvalInputError(f"{path}: not JSON ({exc})") from None
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((f"{path}:{number}", json.loads(line)))
                except ValueError as exc:
                    raise EvalInputError(f"{path}:{number}: not JSON ({exc})") from None
    known = {i.instance_id for i in instances}
    predictions: dict[str, Prediction] = {}
    seen: set[str] = set()
    left_out: list[str] = []
    for where, row in rows:
        if not isinstance(row, dict) or not isinstance(row.get(KEY_ID), str):
            raise EvalInputError(f"{where}: a prediction needs a string {KEY_ID}")
        patch = row.get(KEY_PATCH)
        if patch is not None and not isinstance(patch, str):
            raise EvalInputError(f"{where}: {KEY_PATCH} must be a string or null")
        iid = row[KEY_ID]
        if iid in seen:
            raise EvalInputError(f"{where}: a second prediction for {iid}")
        seen.add(iid)
        if iid not in known:
            left_out.append(iid)
            continue
        predictions[iid] = Prediction(iid, str(row.get(KEY_MODEL) or path.stem), patch or "")
    return LoadedPredictions(predictions, tuple(left_out))


def write_predictions(path: Path, predictions: Iterable[Prediction]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for p in predictions:
            f.write(json.dumps(p.to_json()) + "\n")
