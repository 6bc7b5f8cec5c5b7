"""What the bot needs from the settings, resolved once by the composition root (handlers never read env)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from repomind.bot.github.gitops import Identity
from repomind.compose.config import ServerDefaults
from repomind.store.limits import Limits


@dataclass(frozen=True)
class BotOptions:
    app_slug: str
    work_dir: Path
    public_url: str | None = None
    lease_s: float = 120.0
    #: A delivery whose handler raises is tried this many times in all, ``dispatch_backoff_s`` after
    #: the first failure and twice as long after each next one; then it is reported on its issue.
    dispatch_tries: int = 5
    dispatch_backoff_s: float = 10.0
    #: What the server's settings contribute to each run (model, label, budget ceiling, ...), combined
    #: with the repository's config by :func:`repomind.compose.resolve`.
    defaults: ServerDefaults = field(default_factory=ServerDefaults)
    #: Per installation: jobs at once and the monthly spend cap (:mod:`repomind.store.limits`).
    limits: Limits = field(default_factory=Limits)
    #: Where runs keep their files (``runs/<run id>/``) on this host, uploaded to the shared store as they
    #: grow and when they end; None: none uploaded.
    runs_dir: Path | None = None

    @property
    def login(self) -> str:
        """The login the app's comments come from."""
        return f"{self.app_slug}[bot]"

    @property
    def identity(self) -> Identity:
        return Identity(name=self.login, email=f"{self.app_slug}[bot]@users.noreply.github.com")

    def run_url(self, job_id: int) -> str | None:
        return f"{self.public_url.rstrip('/')}/runs/{job_id}" if self.public_url else None


def branch_for(issue_number: int) -> str:
    return f"repomind/issue-{issue_number}"


def issue_of_branch(ref: str) -> int | None:
    """The issue a ``repomind/issue-<n>`` branch (or ``repomind/issue-<n>-<k>``, where the bot moved
    when people's commits were in the way) belongs to, or None for other branches. The name alone
    never makes a PR the bot's: see :func:`repomind.bot.github.protocol.is_bot_pull`."""
    prefix = "repomind/issue-"
    if not ref.startswith(prefix):
        return None
    number, _, suffix = ref[len(prefix) :].partition("-")
    if number.isdigit() and (suffix == "" or suffix.isdigit()) and not ref.endswith("-"):
        return int(number)
    return None
