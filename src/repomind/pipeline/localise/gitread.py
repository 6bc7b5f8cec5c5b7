"""Reading a repository at a revision straight from git objects: no work tree, nothing modified."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from repomind.errors import RepomindError
from repomind.pipeline.gitrepo import commit_of, is_repository
from repomind.sandbox.hostenv import git_env

MAX_FILE_BYTES = 1_000_000


class LocaliseError(RepomindError):
    """Localisation cannot run on this input (not a repository, unknown revision, empty issue, ...)."""

    exit_code = 2


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False, env=git_env()
    )
    if proc.returncode != 0:
        raise LocaliseError(f"git {' '.join(args[:2])} failed in {repo}: {proc.stderr.decode().strip()}")
    return proc.stdout


def check_repository(repo: Path) -> None:
    if not repo.exists():
        raise LocaliseError(f"{repo} does not exist")
    if not is_repository(repo):
        raise LocaliseError(f"{repo} is not a git repository")


def resolve(repo: Path, rev: str | None) -> str:
    """The commit SHA of ``rev`` (default HEAD); a clear error when it does not exist."""
    check_repository(repo)
    name = rev or "HEAD"
    commit = commit_of(repo, name)
    if commit is None:
        raise LocaliseError(f"revision {name!r} does not exist in {repo}")
    return commit


def _tree(repo: Path, commit: str) -> Iterator[tuple[bytes, bytes, str, bytes, str]]:
    """(mode, kind, sha, size, path) for every entry of ``commit``'s tree; the size of a blob whose
    contents the repository lacks is not a number (git prints ``BAD``)."""
    out = _git(repo, "ls-tree", "-r", "-l", "-z", "--full-tree", commit)
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, sha, size = meta.split()
        yield mode, kind, sha.decode(), size, path.decode("utf-8", "surrogateescape")


def list_files(repo: Path, commit: str) -> dict[str, tuple[str, int]]:
    """path → (blob SHA, size) for every regular file at ``commit``."""
    return {
        path: (sha, int(size))
        for mode, kind, sha, size, path in _tree(repo, commit)
        # not submodules, symlinks, or blobs absent from a partial copy
        if kind == b"blob" and mode != b"120000" and size.isdigit()
    }


def absent_files(repo: Path, commit: str) -> list[str]:
    """The paths at ``commit`` whose contents the repository lacks (a partial mirror or clone)."""
    entries = _tree(repo, commit)
    return sorted(path for _mode, kind, _sha, size, path in entries if kind == b"blob" and not size.isdigit())


def read_blobs(repo: Path, shas: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """(sha, content) for each blob, through one ``git cat-file --batch`` process."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return
    proc = subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:  # from a thread: git fills its stdout pipe while we are still writing
        with contextlib.suppress(BrokenPipeError):
            stdin.write("".join(f"{sha}\n" for sha in wanted).encode())
            stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for sha in wanted:
            header = proc.stdout.readline().split()
            if len(header) < 3:
                continue
            size = int(header[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)
            yield sha, data
    finally:
        proc.stdout.close()
        proc.wait()
        writer.join()


def decode(data: bytes) -> str | None:
    """Text of a blob, or None for a binary or undecodable one."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("latin-1") if data.isascii() else None
        except UnicodeDecodeError:
            return None


def history(repo: Path, commit: str, limit: int) -> list[tuple[str, list[str]]]:
    """(message, changed paths) of up to ``limit`` commits before ``commit`` (merges skipped).

    A partial copy may lack the trees of old commits; then fewer commits are read, or none.
    """
    while limit >= 50:
        proc = subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "log",
                f"-{limit}",
                "--no-merges",
                "--name-only",
                "--format=%x00%s%n%b%x01",
                commit,
            ],
            capture_output=True,
            check=False,
            env=git_env(),
        )
        if proc.returncode == 0:
            return _parse_log(proc.stdout.decode("utf-8", "replace"))
        limit //= 3
    return []


def _parse_log(out: str) -> list[tuple[str, list[str]]]:
    result: list[tuple[str, list[str]]] = []
    for record in out.split("\0")[1:]:
        message, _, names = record.partition("\x01")
        paths = [line for line in names.split("\n") if line.strip()]
        result.append((message.strip(), paths))
    return result
