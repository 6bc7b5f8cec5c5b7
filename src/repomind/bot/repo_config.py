"""``.github/repomind.yml`` from the repository's default branch, read through the API."""

from __future__ import annotations

from repomind import repoconfig
from repomind.bot.github import GitHub, Repository
from repomind.repoconfig import RepoConfig


def load(gh: GitHub, repo: Repository) -> RepoConfig:
    """The repository's config (defaults when it has none); :class:`ConfigError` saying what is wrong."""
    text = gh.get_file(repo.full_name, repoconfig.CONFIG_PATH, repo.default_branch)
    if text is None:
        return RepoConfig()
    return repoconfig.parse(text, source=f"{repoconfig.CONFIG_PATH} on {repo.default_branch}")
