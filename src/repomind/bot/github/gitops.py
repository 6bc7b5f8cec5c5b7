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
from repomind.redact import SECRETS, Redactor
from repomind.sandbox.hostenv import git_env, masked_env


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


def _env(token: str | None = None) -> dict[str, str]:
    """GitPython lays a child's environment over the worker's: blank everything but git's allow-list."""
    return masked_env(git_env(auth_env(token)))


def _fail(what: str, exc: GitCommandError, token: str | None) -> GitError:
    redact = Redactor([token] if token else [], parent=SECRETS)
    stderr = redact(str(exc.stderr or "").strip())[-500:]
    return GitError(f"git {what} failed: {stderr or exc.status}")


def clone(url: str, dest: Path, *, token: str | None, branch: str | None = None) -> Repo:
    """A fresh clone of ``url`` at ``branch`` (the default branch when None) into ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    options = ["--no-tags", "--single-branch"] + (["--branch", branch] if branch else [])
    try:
        repo = Repo.clone_from(url, dest, env=_env(token), multi_options=options)
    except GitCommandError as exc:
        raise _fail(f"clone of {branch or 'the default branch'}", exc, token) from exc
    repo.git.update_environment(**_env())
    return repo


def remote_has_branch(url: str, branch: str, *, token: str | None) -> bool:
    from git.cmd import Git

    try:
        out = Git().execute(["git", "ls-remote", "--heads", url, f"refs/heads/{branch}"], env=_env(token))
    except GitCommandError as exc:
        raise _fail("ls-remote", exc, token) from exc
    return bool(str(out).strip())


class PatchConflict(GitError):
    """The patch does not apply to the commit it was meant for, not even with a three-way merge."""


class PushRejected(GitError):
    """The remote refused the push because the branch moved (it is never forced)."""


def reset_clean(repo: Repo) -> None:
    """Throw away whatever the pipeline left in the work tree."""
    repo.git.reset("--hard", "HEAD")
    repo.git.clean("-fdx")


def head_sha(repo: Repo) -> str:
    return str(repo.head.commit.hexsha)


def fetch_branch(repo: Repo, url: str, branch: str, *, token: str | None) -> str | None:
    """The remote head of ``branch``, fetched with its history into ``refs/repomind/remote/...``; None
    when the remote has no such branch."""
    if not remote_has_branch(url, branch, token=token):
        return None
    ref = f"refs/repomind/remote/{branch}"
    try:
        with repo.git.custom_environment(**auth_env(token)):
            repo.git.fetch("--no-tags", "-q", url, f"+refs/heads/{branch}:{ref}")
    except GitCommandError as exc:
        raise _fail(f"fetch of {branch}", exc, token) from exc
    return str(repo.git.rev_parse(ref))


def has_commit(repo: Repo, sha: str) -> bool:
    try:
        repo.git.cat_file("-e", f"{sha}^{{commit}}")
    except GitCommandError:
        return False
    return True


def is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    """True when ``ancestor`` is ``descendant`` or in its history (False for unknown commits)."""
    try:
        repo.git.merge_base("--is-ancestor", ancestor, descendant)
    except GitCommandError:
        return False
    return True


def find_commit(repo: Repo, head: str, needle: str, *, depth: int = 200) -> str | None:
    """The newest of ``head``'s last ``depth`` commits whose message contains ``needle``, or None."""
    out = repo.git.rev_list(f"--max-count={depth}", "--fixed-strings", f"--grep={needle}", head)
    shas = str(out).split()
    return shas[0] if shas else None


def diff_between(repo: Repo, old: str, new: str) -> str:
    """The binary-safe diff from ``old`` to ``new``, with full blob ids (for a three-way apply)."""
    return str(repo.git.diff("--binary", "--full-index", old, new))


def commit_diff(
    repo: Repo, diff: str, *, parent: str, message: str, author: Identity, three_way: bool = False
) -> str | None:
    """Apply ``diff`` to a clean checkout of ``parent`` and commit it there (detached); the new commit's
    sha, or None when the result is ``parent``'s tree. ``three_way`` merges where the context moved."""
    reset_clean(repo)
    repo.git.checkout("-q", "--detach", parent)
    if diff.strip():
        patch = Path(repo.git_dir) / "repomind.patch"
        patch.write_text(diff if diff.endswith("\n") else diff + "\n")
        options = ["--3way"] if three_way else []
        try:
            repo.git.apply("--whitespace=nowarn", "--index", *options, str(patch))
        except GitCommandError as exc:
            reset_clean(repo)
            raise PatchConflict(f"the change does not apply to {parent[:12]}") from exc
        finally:
            patch.unlink(missing_ok=True)
    if not repo.index.diff("HEAD"):
        return None
    actor = Actor(author.name, author.email)
    commit = repo.index.commit(message, author=actor, committer=actor)
    return str(commit.hexsha)


def push(repo: Repo, url: str, sha: str, branch: str, *, token: str | None) -> None:
    """Push commit ``sha`` to ``branch`` on ``url`` (given explicitly, so no remote with credentials is
    ever configured). Never forced: a branch that moved meanwhile raises :class:`PushRejected`."""
    refspec = f"{sha}:refs/heads/{branch}"
    try:
        with repo.git.custom_environment(**_env(token)):
            repo.git.push(url, refspec)
    except GitCommandError as exc:
        error = _fail(f"push of {branch}", exc, token)
        if "rejected" in str(exc.stderr or "") or "non-fast-forward" in str(exc.stderr or ""):
            raise PushRejected(str(error)) from exc
        raise error from exc
