"""Packing a work tree into a tar stream for the sandbox, and reading its identity."""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from repomind.sandbox.errors import WorkTreeError
from repomind.sandbox.hostenv import git_env

SANDBOX_UID = 1000
SANDBOX_GID = 1000


def list_files(work_tree: Path) -> list[str]:
    """Relative paths of the files to copy: git's tracked and untracked-but-not-ignored files, or all."""
    if not work_tree.is_dir():
        raise WorkTreeError(f"work tree {work_tree} is not a directory")
    if (work_tree / ".git").exists():
        proc = subprocess.run(
            ["git", "-C", str(work_tree), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=False,
            env=git_env(),
        )
        if proc.returncode == 0:
            listed = {n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n}
            return sorted(n for n in listed if os.path.lexists(work_tree / n))
    files: list[str] = []
    for root, dirs, names in os.walk(work_tree):
        dirs[:] = [d for d in dirs if d != ".git"]
        rel = Path(root).relative_to(work_tree)
        files.extend(str(rel / n) if str(rel) != "." else n for n in names)
    return sorted(files)


def pack(work_tree: Path, files: list[str] | None = None) -> IO[bytes]:
    """A tar archive of the work tree (owned by the sandbox user), rewound and ready to send."""
    names = list_files(work_tree) if files is None else files
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid = SANDBOX_UID, SANDBOX_GID
        info.uname = info.gname = "sandbox"
        return info

    try:
        with tarfile.open(fileobj=spool, mode="w") as tar:
            made: set[str] = set()
            for name in names:
                # Parent directories first, owned by the sandbox user too (else the daemon makes them
                # root's, and the unprivileged setup cannot clean the copy up).
                for parent in reversed(Path(name).parents[:-1]):
                    if str(parent) not in made:
                        made.add(str(parent))
                        info = owned(tarfile.TarInfo(str(parent)))
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(info)
                tar.add(work_tree / name, arcname=name, recursive=False, filter=owned)
    except OSError as exc:
        spool.close()
        raise WorkTreeError(f"cannot read the work tree {work_tree}: {exc}") from exc
    spool.seek(0)
    return spool


def pack_directory(directory: Path, arcname: str = ".", owner: tuple[int, int] | None = None) -> IO[bytes]:
    """A tar archive of every file under ``directory`` (for wheelhouses and build contexts), owned by
    ``owner`` (uid, gid) when given."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if owner is not None:
            info.uid, info.gid = owner
            info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=spool, mode="w") as tar:
        tar.add(directory, arcname=arcname, filter=owned)
    spool.seek(0)
    return spool


def repo_name(work_tree: Path) -> str:
    """``owner/name`` from the ``origin`` remote when there is one, else the directory's name."""
    proc = subprocess.run(
        ["git", "-C", str(work_tree), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
        env=git_env(),
    )
    url = proc.stdout.strip() if proc.returncode == 0 else ""
    match = re.search(r"[:/]([^/:]+/[^/]+?)(?:\.git)?/?$", url)
    if match:
        return match.group(1)
    return work_tree.resolve().name
