"""One SWE-bench-format task (:class:`Instance`), the one type for localisation, calibration, training and
the SWE-bench harness; JSONL datasets of them (read leniently here; ``eval.swebench.jsonl`` reads the
harness's stricter form), the files a gold patch changes, and where each repository is."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repomind.pipeline.localise.gitread import LocaliseError

_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)


@dataclass(frozen=True)
class Instance:
    """One task: the repository at ``base_commit``, the issue, its gold patch and, for the SWE-bench
    harness, the version whose environment runs it and the tests that decide it."""

    instance_id: str
    repo: str
    base_commit: str
    problem_statement: str
    patch: str
    version: str = ""
    test_patch: str = ""
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    environment_setup_commit: str = ""

    @property
    def gold_files(self) -> list[str]:
        """The files the gold patch changes (its source side; a new file by its new path)."""
        return list(dict.fromkeys(path for path, _ in file_sections(self.patch)))

    def as_swebench(self) -> dict[str, Any]:
        """The row as ``swebench``'s own functions take it."""
        return {
            "instance_id": self.instance_id,
            "repo": self.repo,
            "base_commit": self.base_commit,
            "version": self.version,
            "patch": self.patch,
            "test_patch": self.test_patch,
            "FAIL_TO_PASS": list(self.fail_to_pass),
            "PASS_TO_PASS": list(self.pass_to_pass),
        }


def file_sections(patch: str) -> list[tuple[str, str]]:
    """(path, text) of each file's section of a unified diff, in order; the path as :attr:`gold_files`
    names it. Text before the first ``diff --git`` line belongs to no section."""
    matches = list(_DIFF_FILE.finditer(patch))
    if not matches:  # an empty patch, or text that is no diff: no file
        return []
    ends = [m.start() for m in matches[1:]] + [len(patch)]
    return [
        (m[2] if m[2] != "/dev/null" else m[1], patch[m.start() : end])
        for m, end in zip(matches, ends, strict=True)
    ]


def load(path: Path, ids: list[str] | None = None) -> list[Instance]:
    """The instances of a JSONL file (optionally only ``ids``); a clear error for a malformed line."""
    if not path.is_file():
        raise LocaliseError(f"dataset {path} does not exist")
    instances = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            instance = Instance(
                instance_id=str(row["instance_id"]),
                repo=str(row["repo"]),
                base_commit=str(row["base_commit"]),
                problem_statement=str(row["problem_statement"]),
                patch=str(row.get("patch", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LocaliseError(f"{path}:{number}: not a SWE-bench instance ({exc})") from None
        instances.append(instance)
    if ids:
        wanted = set(ids)
        unknown = wanted - {i.instance_id for i in instances}
        if unknown:
            raise LocaliseError(f"not in {path}: {', '.join(sorted(unknown))}")
        instances = [i for i in instances if i.instance_id in wanted]
    return instances


def save(instances: list[Instance], path: Path) -> None:
    """Write instances as SWE-bench-format JSONL: what :func:`load` reads, and every field ``eval swebench``
    reads (the tests, FAIL_TO_PASS / PASS_TO_PASS, version, environment setup commit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            **i.as_swebench(),
            "problem_statement": i.problem_statement,
            "environment_setup_commit": i.environment_setup_commit,
        }
        for i in instances
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def repo_path(repos: Path, repo: str) -> Path | None:
    """``repos/owner__name`` (bare or with a work tree, or a symlink to either), or None when absent."""
    path = repos / repo.replace("/", "__")
    return path if path.exists() else None
