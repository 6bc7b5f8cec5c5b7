"""Putting a job's change on the issue's branch, never discarding a commit the bot did not make.

The bot's branch for an issue is ``repomind/issue-N`` (or the ``-K`` branch an earlier job moved to),
and the ledger remembers the commit the bot last put there. Before pushing, the remote head is fetched:

- no such branch: the change is pushed as a new branch;
- this job's commit is already there (a worker died after pushing, before the ledger knew): nothing
  is applied or pushed again;
- the remote head holds the bot's last commit: the change is applied on top of the remote head, as
  the patch from the bot's last commit (for ``revise``, from the commit its work tree started at) to
  the new result, merged three-way where people committed meanwhile, and pushed as a fast-forward;
  everyone's commits, the bot's earlier one included, stay in the history;
- the branch is not the bot's (it never pushed there, or its last commit was rewritten away), or the
  change does not apply on top of people's commits: the change goes to a new branch
  ``repomind/issue-N-2`` (``-3``, ...) and the note for the status comment says so.

No push is ever forced: a branch that moved between the fetch and the push is fetched again.
"""

from __future__ import annotations

from dataclasses import dataclass

from git import Repo

from repomind.bot.commands.options import branch_for
from repomind.bot.github import gitops
from repomind.store import Job, Ledger

#: Fetch-apply-push rounds before giving up on a branch that keeps moving.
ROUNDS = 3
#: ``repomind/issue-N-2`` ... ``-MAX_SUFFIX`` are tried for a new branch.
MAX_SUFFIX = 50


@dataclass(frozen=True)
class Pushed:
    """Where the change is: ``branch`` at ``sha``; ``note`` tells people why, when it is not the plain
    case (built on their commits, moved to a new branch, already there)."""

    branch: str
    sha: str
    note: str = ""


def trailer(job_id: int) -> str:
    """The line every commit of a job carries, so that a resumed job finds what it already pushed."""
    return f"Repomind-Job: {job_id}"


def signed_off(identity: gitops.Identity) -> str:
    """The DCO trailer of the bot's commits (``signoff: true`` in the repository's config)."""
    return f"Signed-off-by: {identity.name} <{identity.email}>"


@dataclass
class BranchWriter:
    tree: Repo
    url: str
    token: str | None
    ledger: Ledger
    author: gitops.Identity
    #: Each commit carries ``Signed-off-by`` with the bot's commit identity (``signoff`` in the config).
    signoff: bool = False

    def put(self, job: Job, *, base: str, diff: str, message: str) -> Pushed:
        """Commit ``diff`` (made on ``base``) for ``job`` and push it as described in the module doc."""
        last = self.ledger.last_push(job.repo, job.issue_number)
        branch = last.branch if last is not None and last.branch else branch_for(job.issue_number)
        trailers = [trailer(job.id), *([signed_off(self.author)] if self.signoff else [])]
        message = f"{message}\n\n" + "\n".join(trailers)
        for earlier in dict.fromkeys(b for b in (job.branch, branch) if b):
            found = self._already_pushed(job, earlier)
            if found is not None:
                return found
        fresh = gitops.commit_diff(self.tree, diff, parent=base, message=message, author=self.author)
        if fresh is None:
            raise RuntimeError("the pipeline's diff changed nothing")
        for _ in range(ROUNDS):
            remote = gitops.fetch_branch(self.tree, self.url, branch, token=self.token)
            if remote is None:
                if self._push(job, fresh, branch):
                    return Pushed(branch, fresh)
                continue
            last_sha = last.head_sha if last is not None and last.branch == branch else None
            if last_sha is None or not gitops.is_ancestor(self.tree, last_sha, remote):
                why = f"`{branch}` was not made by Repomind (or its last commit was rewritten away)"
                pushed = self._elsewhere(job, fresh, why)
            else:
                pushed = self._on_top(job, branch, remote, last_sha, base, fresh, message)
            if pushed is not None:
                return pushed
        raise gitops.GitError(f"`{branch}` kept moving while Repomind pushed; gave up after {ROUNDS} tries")

    def _already_pushed(self, job: Job, branch: str) -> Pushed | None:
        remote = gitops.fetch_branch(self.tree, self.url, branch, token=self.token)
        if remote is None:
            return None
        found = gitops.find_commit(self.tree, remote, trailer(job.id))
        return Pushed(branch, found) if found is not None else None

    def _on_top(
        self, job: Job, branch: str, remote: str, last_sha: str, base: str, fresh: str, message: str
    ) -> Pushed | None:
        """Apply the change on ``remote`` (which holds the bot's ``last_sha``); None when it moved again."""
        tree = self.tree
        revising = gitops.is_ancestor(tree, last_sha, base) and gitops.is_ancestor(tree, base, remote)
        anchor = base if revising else last_sha
        patch = gitops.diff_between(self.tree, anchor, fresh)
        try:
            sha = gitops.commit_diff(
                self.tree, patch, parent=remote, message=message, author=self.author, three_way=True
            )
        except gitops.PatchConflict:
            why = f"people committed to `{branch}` and this change does not apply on top of their commits"
            return self._elsewhere(job, fresh, why)
        if sha is None:
            return Pushed(branch, remote, f"`{branch}` already holds this change: nothing new was pushed.")
        if not self._push(job, sha, branch):
            return None
        others = remote not in (anchor, last_sha)
        note = f"Built on top of the commits people added to `{branch}`; theirs are kept." if others else ""
        return Pushed(branch, sha, note)

    def _elsewhere(self, job: Job, fresh: str, why: str) -> Pushed | None:
        root = branch_for(job.issue_number)
        for k in range(2, MAX_SUFFIX + 1):
            name = f"{root}-{k}"
            if gitops.remote_has_branch(self.url, name, token=self.token):
                continue
            if not self._push(job, fresh, name):
                return None
            note = f"{why}, so the change is on a new branch, `{name}`; theirs is untouched."
            return Pushed(name, fresh, note)
        raise gitops.GitError(f"no free branch name left for issue {job.issue_number}")

    def _push(self, job: Job, sha: str, branch: str) -> bool:
        """Push ``sha`` to ``branch`` (never forced); False when the branch moved meanwhile."""
        self.ledger.update_job(job.id, branch=branch)  # where a push may have happened, before it happens
        try:
            gitops.push(self.tree, self.url, sha, branch, token=self.token)
        except gitops.PushRejected:
            return False
        return True
