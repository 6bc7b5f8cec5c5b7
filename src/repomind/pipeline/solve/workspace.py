"""Scratch work trees for a run: a private clone of the repository, one fresh work tree per attempt.

The user's repository is never modified: a local path is cloned with ``--shared`` (its objects are read
in place, nothing is written to it), a URL is cloned in full, and every work tree lives under the run's
scratch directory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from repomind.errors import UsageError
from repomind.pipeline.gitrepo import commit_of, is_repository
from repomind.sandbox.hostenv import git_env

_IDENTITY = ("-c", "user.email=repomind@localhost", "-c", "user.name=Repomind")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.I)


class GitError(UsageError):
    """A git command on the scratch copy failed."""


def run_git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *_IDENTITY, "-C", str(cwd), *args], capture_output=True, text=True, check=False, env=git_env()
    )
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:3])} failed in {cwd}: {proc.stderr.strip()[:500]}")
    return proc.stdout


def is_url(repo: str) -> bool:
    return bool(_URL.match(repo))


class Workspace:
    """A clone of the repository under ``root`` and the work trees made from it at one commit."""

    def __init__(self, root: Path, clone: Path, commit: str) -> None:
        self.root = root
        self.clone = clone
        self.commit = commit

    @classmethod
    def create(cls, repo: str, rev: str | None, root: Path) -> Workspace:
        """Clone ``repo`` (a path or URL) into ``root`` and resolve ``rev`` (default: its HEAD)."""
        root.mkdir(parents=True, exist_ok=True)
        clone = root / "repo"
        if is_url(repo):
            proc = subprocess.run(
                ["git", "clone", "--quiet", "--no-checkout", repo, str(clone)],
                capture_output=True,
                text=True,
                check=False,
                env=git_env(),
            )
            if proc.returncode != 0:
                raise UsageError(f"cannot clone {repo}: {proc.stderr.strip()[:500]}")
        else:
            source = Path(repo).expanduser()
            if not source.is_dir():
                raise UsageError(f"--repo {repo} is not a directory")
            if not is_repository(source):
                raise UsageError(f"--repo {repo} is not a git repository")
            proc = subprocess.run(
                ["git", "clone", "--quiet", "--shared", "--no-checkout", str(source.resolve()), str(clone)],
                capture_output=True,
                text=True,
                check=False,
                env=git_env(),
            )
            if proc.returncode != 0:
                raise UsageError(f"cannot copy {repo}: {proc.stderr.strip()[:500]}")
        commit = cls._resolve(clone, rev)
        return cls(root, clone, commit)

    @staticmethod
    def _resolve(clone: Path, rev: str | None) -> str:
        candidates = [rev, f"origin/{rev}"] if rev else ["HEAD"]
        for name in candidates:
            commit = commit_of(clone, name)
            if commit is not None:
                return commit
        if rev:
            raise UsageError(f"--rev {rev} is not a commit of the repository")
        raise UsageError("the repository has no commits")

    def work_tree(self, name: str) -> Path:
        """A fresh work tree at the starting commit (an earlier one of that name is replaced)."""
        path = self.root / name
        if path.exists():
            self.remove(path)
        run_git(self.clone, "worktree", "add", "--quiet", "--detach", "--force", str(path), self.commit)
        return path

    def remove(self, path: Path) -> None:
        run_git(self.clone, "worktree", "remove", "--force", str(path), check=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        run_git(self.clone, "worktree", "prune", check=False)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def diff(work_tree: Path) -> str:
    """Everything changed in ``work_tree`` since its commit, new files included, as ``git apply`` takes it."""
    run_git(work_tree, "add", "--all")
    return run_git(work_tree, "diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "HEAD")


def changed_paths(work_tree: Path) -> list[str]:
    run_git(work_tree, "add", "--all")
    out = run_git(work_tree, "diff", "--cached", "--name-only", "--no-renames", "-z", "HEAD")
    return [p for p in out.split("\0") if p]
