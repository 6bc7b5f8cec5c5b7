"""The git questions the pipeline asks a repository it is given: is it one, and which commit a name means.

Both the localiser's reader (``localise/gitread.py``) and the solve work trees (``solve/workspace.py``)
ask them; each turns a "no" into its own error.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from repomind.sandbox.hostenv import git_env


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``git -C repo args`` with the host's allow-listed environment; the caller reads the return code."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False, env=git_env()
    )


def is_repository(path: Path) -> bool:
    return git(path, "rev-parse", "--git-dir").returncode == 0


def commit_of(repo: Path, name: str) -> str | None:
    """The SHA of the commit ``name`` names in ``repo``, or None when it names none."""
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    return proc.stdout.strip() if proc.returncode == 0 else None
