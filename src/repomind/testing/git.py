"""Fixture git repositories on disk: :func:`make_git_repo` commits files in one go, :func:`git` runs git
with a fixed identity (and the host's scrubbed git environment)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from repomind.sandbox.hostenv import git_env

_GIT_IDENTITY = ("-c", "user.email=fixture@repomind.test", "-c", "user.name=Repomind fixture")


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; return stdout, raise on failure."""
    proc = subprocess.run(
        ["git", *_GIT_IDENTITY, "-C", str(cwd), *args],
        check=True,
        capture_output=True,
        text=True,
        env=git_env(),
    )
    return proc.stdout


def make_git_repo(root: Path, files: Mapping[str, str], *, branch: str = "main") -> Path:
    """Create a git repository at ``root`` with ``files`` (path → text) in one commit."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q", "-b", branch)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial commit")
    return root
