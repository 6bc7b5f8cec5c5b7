"""Repomind's small exception hierarchy, caught only at the edges (route, worker, CLI)."""

from __future__ import annotations


class RepomindError(Exception):
    """Base class for errors that Repomind reports to a person, with what to do about them."""

    exit_code = 1


class ConfigError(RepomindError):
    """Settings or a repository's ``.github/repomind.yml`` are invalid."""

    exit_code = 2


class UsageError(RepomindError):
    """A command was called with arguments that cannot work (a path that does not exist, ...)."""

    exit_code = 2


class UnsupportedRepository(UsageError):
    """No toolchain fits the repository (its language), or its ``language:`` names none Repomind has."""
