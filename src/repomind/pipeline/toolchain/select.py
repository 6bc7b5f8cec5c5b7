"""Choosing a repository's toolchain: its ``language:`` setting, else the first that claims its files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from repomind.errors import UnsupportedRepository
from repomind.pipeline.toolchain.protocol import Toolchain
from repomind.pipeline.toolchain.python import PythonToolchain
from repomind.repoconfig import RepoConfig
from repomind.sandbox.worktree import list_files

#: Every toolchain, in the order they are tried on a repository without a ``language:`` setting.
TOOLCHAINS: tuple[Toolchain, ...] = (PythonToolchain(),)


def by_name(name: str, toolchains: Sequence[Toolchain] = TOOLCHAINS) -> Toolchain:
    """The toolchain called ``name``; :class:`UnsupportedRepository` naming the known ones otherwise."""
    for toolchain in toolchains:
        if toolchain.name == name.lower():
            return toolchain
    known = ", ".join(t.name for t in toolchains)
    raise UnsupportedRepository(f"language: {name} is not one Repomind supports (supported: {known})")


def toolchain_for(
    work_tree: Path, config: RepoConfig, toolchains: Sequence[Toolchain] = TOOLCHAINS
) -> Toolchain:
    """The toolchain of the repository checked out at ``work_tree``: the one its configuration names
    (``language:``), else the first that claims its files (those the sandbox would copy: git's
    tracked and untracked-but-not-ignored files)."""
    if config.language:
        return by_name(config.language, toolchains)
    files = list_files(work_tree)
    for toolchain in toolchains:
        if toolchain.claims(files):
            return toolchain
    known = ", ".join(t.name for t in toolchains)
    raise UnsupportedRepository(
        f"Repomind found no supported language in this repository (supported: {known}); "
        "set `language:` in .github/repomind.yml if it is one of them"
    )
