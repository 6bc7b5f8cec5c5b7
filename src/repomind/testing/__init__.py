"""Fakes of Repomind's outside boundaries, and helpers for fixture repositories, for tests.

Every boundary has one real implementation and one fake here, one module (or package) per boundary:

- :mod:`repomind.testing.github` — the stand-in GitHub: state in memory, REST app, git HTTP server and
  GitHub's example bodies (:class:`GitHubState`, :class:`FakeGitHub`, :class:`StandInGitHub`);
- :mod:`repomind.testing.llm` — the model (:class:`ScriptedModel`, :class:`StandInLLMServer`,
  :class:`ScriptedToolCalls`, :func:`tool_call`, :class:`HashingEmbedder`);
- :mod:`repomind.testing.sandbox` — the sandbox (:class:`FakeSandbox`) and its images (:class:`FakeImages`);
- :mod:`repomind.testing.pipeline` — the pipeline seam of the bot (:class:`FakePipeline`);
- :mod:`repomind.testing.queue` — the job queue (:class:`FakeQueue`);
- :mod:`repomind.testing.artifacts` — the run-artifacts store (:class:`MemoryArtifacts`);
- :mod:`repomind.testing.toolchain` — a repository's language tools (:class:`FakeToolchain`, a
  shell-script language whose runner prints ``PASS``/``FAIL`` lines);
- :mod:`repomind.testing.git` — fixture git repositories (:func:`make_git_repo`, :func:`git`);
- :mod:`repomind.testing.training` — the trainer (``FakeTrainer``, a tiny random Llama, run folders):
  imported by its own path, so that importing the bot's fakes never pulls in training code.

This module re-exports the public names of all but the last, with the one ``__all__`` below. The servers
that tests start (PostgreSQL, Redis, Chroma) are not part of the installed package: see
``tests/services.py``.
"""

from __future__ import annotations

from repomind.testing.artifacts import MemoryArtifacts
from repomind.testing.git import git, make_git_repo
from repomind.testing.github.server import StandInGitHub
from repomind.testing.github.state import FakeGitHub, FakeGitHubFactory, GitHubState
from repomind.testing.llm import (
    HashingEmbedder,
    ScriptedHTTPError,
    ScriptedModel,
    ScriptedToolCalls,
    StandInLLMServer,
    tool_call,
)
from repomind.testing.pipeline import FakePipeline, scripted_localisation, scripted_pipeline
from repomind.testing.queue import FakeQueue
from repomind.testing.sandbox import FakeImages, FakeSandbox
from repomind.testing.toolchain import FakeToolchain

__all__ = [
    "FakeGitHub",
    "FakeGitHubFactory",
    "FakeImages",
    "FakePipeline",
    "FakeQueue",
    "FakeSandbox",
    "FakeToolchain",
    "GitHubState",
    "HashingEmbedder",
    "MemoryArtifacts",
    "ScriptedHTTPError",
    "ScriptedModel",
    "ScriptedToolCalls",
    "StandInGitHub",
    "StandInLLMServer",
    "git",
    "make_git_repo",
    "scripted_localisation",
    "scripted_pipeline",
    "tool_call",
]
