"""Examples from outside the bot: SWE-bench gold patches and a repository's own history.

Both give the prompt the solve pipeline would build (its system rules, the issue, the changed files as
they were before the change, whole when small, else a skeleton and the spans that matter) and the change
as search/replace blocks. History gives many more examples than the few gold patches: each small commit
that touches only source files is an issue (its message) and the answer (its diff).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from repomind.errors import UsageError
from repomind.pipeline.instance import Instance, load, repo_path
from repomind.pipeline.issue import keywords, strip_hidden
from repomind.pipeline.solve.context import FileView, file_view
from repomind.pipeline.solve.prompts import patch_messages
from repomind.pipeline.toolchain.python import FACTS
from repomind.sandbox.hostenv import git_env
from repomind.training.examples import Message, Supervised, blocks_from_diff

SOURCE_SUFFIXES = (".py", ".pyx", ".pyi", ".js", ".ts", ".go", ".rs", ".java", ".c", ".h", ".cpp", ".rb")
#: Files shown whole up to this size in a training prompt (smaller than the pipeline's, to fit the context).
PROMPT_FILE_CHARS = 6_000
Progress = Callable[[int, int, str], None]


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, env=git_env())
    if out.returncode != 0:
        raise UsageError(f"git {' '.join(args[:2])} in {repo}: {out.stderr.decode(errors='replace').strip()}")
    return out.stdout.decode(errors="replace")


def _show(repo: Path, rev: str, path: str) -> str | None:
    out = subprocess.run(
        ["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True, check=False, env=git_env()
    )
    if out.returncode != 0 or b"\0" in out.stdout[:8000]:
        return None
    return out.stdout.decode(errors="replace")


def prompt_for(repo: Path, rev: str, issue: str, paths: Sequence[str]) -> list[Message]:
    """The solve pipeline's prompt for ``issue`` with ``paths`` (as at ``rev``) as the candidate files."""
    words = keywords(issue)
    views: list[FileView] = []
    with tempfile.TemporaryDirectory(prefix="repomind-train-") as tmp:
        root = Path(tmp)
        for path in paths:
            text = _show(repo, rev, path)
            if text is None:  # a file the change creates
                continue
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            views.append(file_view(root, path, words, whole_chars=PROMPT_FILE_CHARS))
    return [
        {"role": m["role"], "content": m["content"]}
        for m in patch_messages(strip_hidden(issue), views, facts=FACTS)
    ]


def _changed_paths(diff: str) -> list[str]:
    paths = []
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            parts = line.split()
            paths.append(parts[2][2:] if parts[3] == "/dev/null" else parts[3][2:])
    return list(dict.fromkeys(paths))


def swebench_examples(
    dataset: Path, repos: Path, *, progress: Progress | None = None
) -> tuple[list[Supervised], list[str]]:
    """One supervised example per instance whose repository is in ``repos``; and the skipped ids."""
    instances: list[Instance] = load(dataset)
    examples: list[Supervised] = []
    skipped: list[str] = []
    for n, inst in enumerate(instances, start=1):
        if progress:
            progress(n, len(instances), inst.instance_id)
        repo = repo_path(repos, inst.repo)
        target = blocks_from_diff(inst.patch)
        if repo is None or target is None:
            skipped.append(inst.instance_id)
            continue
        messages = prompt_for(repo, inst.base_commit, inst.problem_statement, _changed_paths(inst.patch))
        meta = {"repo": inst.repo, "base_commit": inst.base_commit}
        examples.append(
            Supervised(
                inst.instance_id,
                "swebench-gold",
                [*messages, {"role": "assistant", "content": target}],
                meta,
            )
        )
    return examples, skipped


@dataclass(frozen=True)
class HistoryFilter:
    """Which commits make examples: small, source-only, with a message that says something."""

    max_files: int = 3
    max_lines: int = 80
    min_message_chars: int = 20
    suffixes: tuple[str, ...] = SOURCE_SUFFIXES


def _candidates(repo: Path, rev: str, limit: int, rules: HistoryFilter) -> Iterator[tuple[str, str, str]]:
    """(sha, parent, message) of small source-only non-merge commits, newest first."""
    # A partial clone or a snapshot may miss old objects: git log then stops with an error after printing
    # the commits it could read, and those are used.
    done = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "log",
            "--no-merges",
            "--first-parent",
            f"-n{limit}",
            "--format=%x00%H %P",
            "--numstat",
            rev,
        ],
        capture_output=True,
        check=False,
        env=git_env(),
    )
    log = done.stdout.decode(errors="replace")
    if done.returncode != 0 and not log:
        raise UsageError(f"git log in {repo}: {done.stderr.decode(errors='replace').strip()}")
    for chunk in log.split("\0")[1:]:
        lines = chunk.strip().splitlines()
        if not lines:
            continue
        shas = lines[0].split()
        if len(shas) != 2:  # a root commit: nothing to show before it
            continue
        stats = [line.split("\t") for line in lines[1:] if line.strip()]
        if not stats or len(stats) > rules.max_files:
            continue
        if any(s[0] == "-" or not s[2].endswith(rules.suffixes) for s in stats):
            continue
        if sum(int(s[0]) + int(s[1]) for s in stats) > rules.max_lines:
            continue
        try:
            message = _git(repo, "log", "-1", "--format=%B", shas[0]).strip()
        except UsageError:
            continue
        if len(message) < rules.min_message_chars:
            continue
        yield shas[0], shas[1], message


def history_examples(
    repo: Path,
    *,
    rev: str = "HEAD",
    limit: int = 2000,
    max_examples: int = 500,
    rules: HistoryFilter | None = None,
    name: str | None = None,
    progress: Progress | None = None,
) -> list[Supervised]:
    """Examples from the commits of ``repo`` reachable from ``rev`` (at most ``limit`` looked at)."""
    rules = rules or HistoryFilter()
    label = name or repo.name
    examples: list[Supervised] = []
    for sha, parent, message in _candidates(repo, rev, limit, rules):
        if len(examples) >= max_examples:
            break
        try:
            diff = _git(repo, "diff", "--no-color", "--no-ext-diff", parent, sha)
        except UsageError:  # an object missing from a partial clone: skip the commit
            continue
        target = blocks_from_diff(diff)
        if target is None:
            continue
        messages = prompt_for(repo, parent, message, _changed_paths(diff))
        meta = {"repo": label, "commit": sha, "parent": parent}
        examples.append(
            Supervised(
                f"{label}@{sha[:12]}",
                "history",
                [*messages, {"role": "assistant", "content": target}],
                meta,
            )
        )
        if progress:
            progress(len(examples), max_examples, sha[:12])
    return examples
