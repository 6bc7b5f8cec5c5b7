"""Repomind: turn a labelled GitHub issue into a tested draft pull request."""

__version__ = "0.1.0"
