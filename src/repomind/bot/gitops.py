"""git for the bot (gitpython): clone, branch, commit and push with the installation token.

The token travels only in the environment of the git process that needs it (``http.extraHeader`` set
through ``GIT_CONFIG_*`` variables): never in the remote URL, ``.git/config``, argv or a log line, and
never into the sandbox, which sees only the work tree after the token-bearing clone is done.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from pathlib import Path

from git import Actor, GitCommandError, Repo

from repomind.errors import RepomindError
from repomind.log import Redactor


class GitError(RepomindError):
    """A git operation failed; the message never contains the token."""


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def auth_env(token: str | None) -> dict[str, str]:
    """Environment for one git process: credentials as an HTTP header, never a prompt."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    return env


def _fail(what: str, exc: GitCommandError, token: str | None) -> GitError:
    redact = Redactor([token] if token else [])
    stderr = redact(str(exc.stderr or "").strip())[-500:]
    return GitError(f"git {what} failed: {stderr or exc.status}")


def clone(url: str, dest: Path, *, token: str | None, branch: str | None = None) -> Repo:
    """A fresh clone of ``url`` at ``branch`` (the default branch when None) into ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    options = ["--no-tags", "--single-branch"] + (["--branch", branch] if branch else [])
    try:
        return Repo.clone_from(url, dest, env=auth_env(token), multi_options=options)
    except GitCommandError as exc:
        raise _fail(f"clone of {branch or 'the default branch'}", exc, token) from exc


def remote_has_branch(url: str, branch: str, *, token: str | None) -> bool:
    from git.cmd import Git

    try:
        out = Git().execute(["git", "ls-remote", "--heads", url, f"refs/heads/{branch}"], env=auth_env(token))
    except GitCommandError as exc:
        raise _fail("ls-remote", exc, token) from exc
    return bool(str(out).strip())


def reset_clean(repo: Repo) -> None:
    """Throw away whatever the pipeline left in the work tree."""
    repo.git.reset("--hard", "HEAD")
    repo.git.clean("-fdx")


def commit_diff(repo: Repo, diff: str, *, branch: str, message: str, author: Identity) -> str | None:
    """Apply ``diff`` to a clean tree on ``branch`` and commit it; the new commit's sha, or None if empty."""
    reset_clean(repo)
    repo.git.checkout("-B", branch)
    if diff.strip():
        patch = Path(repo.git_dir) / "repomind.patch"
        patch.write_text(diff if diff.endswith("\n") else diff + "\n")
        try:
            repo.git.apply("--whitespace=nowarn", "--index", str(patch))
        except GitCommandError as exc:
            raise _fail("apply of the pipeline's diff", exc, None) from exc
        finally:
            patch.unlink(missing_ok=True)
    if not repo.index.diff("HEAD"):
        return None
    actor = Actor(author.name, author.email)
    commit = repo.index.commit(message, author=actor, committer=actor)
    return commit.hexsha


def push(repo: Repo, url: str, branch: str, *, token: str | None, force: bool) -> None:
    """Push ``branch`` to ``url`` (given explicitly, so no remote with credentials is ever configured)."""
    refspec = f"{'+' if force else ''}refs/heads/{branch}:refs/heads/{branch}"
    try:
        with repo.git.custom_environment(**auth_env(token)):
            repo.git.push(url, refspec)
    except GitCommandError as exc:
        raise _fail(f"push of {branch}", exc, token) from exc
