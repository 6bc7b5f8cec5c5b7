"""SWE-bench-format datasets: loading, the files a gold patch changes, and where each repository is."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from repomind.pipeline.localise.gitread import LocaliseError

_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)


@dataclass(frozen=True)
class Instance:
    instance_id: str
    repo: str
    base_commit: str
    problem_statement: str
    patch: str

    @property
    def gold_files(self) -> list[str]:
        """The files the gold patch changes (its source side; a new file by its new path)."""
        return list(dict.fromkeys(path for path, _ in file_sections(self.patch)))


def file_sections(patch: str) -> list[tuple[str, str]]:
    """(path, text) of each file's section of a unified diff, in order; the path as :attr:`gold_files`
    names it. Text before the first ``diff --git`` line belongs to no section."""
    matches = list(_DIFF_FILE.finditer(patch))
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
                str(row["instance_id"]),
                str(row["repo"]),
                str(row["base_commit"]),
                str(row["problem_statement"]),
                str(row.get("patch", "")),
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
    """Write instances as SWE-bench-format JSONL (what :func:`load` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ("instance_id", "repo", "base_commit", "problem_statement", "patch")
    path.write_text("".join(json.dumps({f: getattr(i, f) for f in fields}) + "\n" for i in instances))


def repo_path(repos: Path, repo: str) -> Path | None:
    """``repos/owner__name`` (bare or with a work tree, or a symlink to either), or None when absent."""
    path = repos / repo.replace("/", "__")
    return path if path.exists() else None
