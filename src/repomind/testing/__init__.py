"""Fakes of Repomind's outside boundaries, and helpers for fixture repositories, for tests.

Every boundary (GitHub, LLM, sandbox, queue, trainer) has one real implementation and one fake here.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repomind.pipeline.llm import Completion, LLMError, Message
from repomind.sandbox.hostenv import git_env
from repomind.sandbox.limits import Limits
from repomind.sandbox.types import Command, Environment, EnvironmentSpec, ExecResult, Outcome, as_argv
from repomind.testing_llm import ScriptedHTTPError, StandInLLMServer, count_tokens

__all__ = [
    "FakeSandbox",
    "ScriptedHTTPError",
    "ScriptedModel",
    "StandInLLMServer",
    "git",
    "make_git_repo",
]

_GIT_IDENTITY = ("-c", "user.email=fixture@repomind.test", "-c", "user.name=Repomind fixture")


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; return stdout, raise on failure."""
    proc = subprocess.run(
        ["git", *_GIT_IDENTITY, "-C", str(cwd), *args],
        check=True,
        capture_output=True,
        text=True,
        env=git_env(),
    )
    return proc.stdout


def make_git_repo(root: Path, files: Mapping[str, str], *, branch: str = "main") -> Path:
    """Create a git repository at ``root`` with ``files`` (path → text) in one commit."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q", "-b", branch)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial commit")
    return root


#: A scripted sandbox command: gets the argv and the work tree, returns (exit code, stdout, stderr).
Script = Callable[[tuple[str, ...], Path], tuple[int, str, str]]
#: Reads back a file the command left in the sandbox: gets its path and the work tree; None: absent.
ReadBack = Callable[[str, Path], bytes | None]


@dataclass
class FakeSandbox:
    """A sandbox that runs nothing: commands are answered by ``script`` and every call is recorded.

    Files asked for with ``collect`` come from ``read_back`` (none when it is not given)."""

    script: Script = field(default=lambda _argv, _tree: (0, "", ""))
    read_back: ReadBack | None = None
    prepared: list[EnvironmentSpec] = field(default_factory=list)
    commands: list[tuple[str, ...]] = field(default_factory=list)
    _built: set[str] = field(default_factory=set)

    def prepare(self, work_tree: Path, spec: EnvironmentSpec) -> Environment:
        self.prepared.append(spec)
        key = f"{spec.repo_name}:{spec.setup_command or ''}:{spec.python or ''}"
        cached = key in self._built
        self._built.add(key)
        return Environment(image=f"fake/{spec.repo_name}", key=key, cached=cached, setup_seconds=0.0)

    def run(
        self,
        env: Environment,
        work_tree: Path,
        command: Command,
        *,
        network: bool = False,
        limits: Limits | None = None,
        capture_diff: bool = True,
        collect: Sequence[str] = (),
    ) -> ExecResult:
        argv = as_argv(command)
        self.commands.append(argv)
        start = time.monotonic()
        code, out, err = self.script(argv, work_tree)
        outcome = Outcome.OK if code == 0 else Outcome.TIMEOUT if code == 124 else Outcome.FAILED
        diff = git(work_tree, "diff") if capture_diff and (work_tree / ".git").exists() else None
        collected: dict[str, bytes] = {}
        if self.read_back is not None:
            for path in collect:
                data = self.read_back(path, work_tree)
                if data is not None:
                    collected[path] = data
        seconds = time.monotonic() - start
        return ExecResult(argv, code, out, err, seconds, outcome, diff=diff, collected=collected)


@dataclass
class ScriptedModel:
    """A language model that answers ``replies`` in order and records every conversation it was given.

    ``cost_per_token`` prices each token (``None``: an unknown price). Running out of replies is an error.
    """

    replies: list[str]
    model: str = "scripted"
    cost_per_token: float | None = None
    conversations: list[list[Message]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model

    def complete(self, messages: Sequence[Message]) -> Completion:
        self.conversations.append(list(messages))
        if not self.replies:
            raise LLMError("the scripted model has no reply left")
        text = self.replies.pop(0)
        prompt_tokens = count_tokens("\n".join(m["content"] for m in messages))
        completion_tokens = count_tokens(text)
        cost = (
            None if self.cost_per_token is None else (prompt_tokens + completion_tokens) * self.cost_per_token
        )
        return Completion(text, prompt_tokens, completion_tokens, cost, self.model, 0.0)

    def prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in conv) for conv in self.conversations]


class HashingEmbedder:
    """A deterministic stand-in for the sentence-transformers embedder: hashed bags of words, unit length."""

    name = "hashing-64"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> Any:
        import re
        import zlib

        import numpy as np

        self.calls += len(texts)
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]{3,}", text.lower()):
                vectors[row, zlib.crc32(word.encode()) % 64] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


# -- GitHub: state in memory, served over REST and git smart HTTP on loopback ---------------------------
# -- the pipeline seam -------------------------------------------------------------------------------
from repomind.bot.seam import (  # noqa: E402
    Attempt,
    Hints,
    OutcomeStatus,
    PipelineEvent,
    PipelineOutcome,
    TestEvidence,
)
from repomind.pipeline.localise.result import Localisation, RankedFile  # noqa: E402
from repomind.repoconfig import RepoConfig  # noqa: E402
from repomind.testing_github import FakeGitHub, FakeGitHubFactory, GitHubState  # noqa: E402
from repomind.testing_server import StandInGitHub  # noqa: E402


def scripted_localisation(paths: list[str], *, confidence: float = 0.9) -> Localisation:
    files = [RankedFile(p, round(0.9 / (i + 1), 3)) for i, p in enumerate(paths)]
    return Localisation(files=files, set=list(paths), confidence=confidence, signals=["bm25", "paths"])


@dataclass
class FakePipeline:
    """A pipeline that writes ``edits`` (path → new text) into the work tree and reports ``status``.

    ``gate`` (when set) is polled before the edits: the run waits until it answers True, stopping early
    when ``should_cancel`` does; tests use it to cancel or kill a worker mid-job. Every call is recorded.
    """

    edits: dict[str, str] = field(default_factory=dict)
    status: OutcomeStatus = OutcomeStatus.SUCCESS
    localisation: Localisation | None = None
    evidence: TestEvidence = field(
        default_factory=lambda: TestEvidence(
            fixed=("tests/test_calc.py::test_add",), still_passing=(), verified=True
        )
    )
    gate: Callable[[], bool] | None = None
    on_start: Callable[[Path], None] | None = None
    explanation: str = "No attempt passed: the tests still fail."
    calls: list[dict[str, object]] = field(default_factory=list)

    def run(
        self,
        work_tree: Path,
        issue_title: str,
        issue_body: str,
        config: RepoConfig,
        *,
        hints: Hints,
        on_event: Callable[[PipelineEvent], None],
        should_cancel: Callable[[], bool],
        repo: str = "",
        installation_id: int | None = None,
    ) -> PipelineOutcome:
        self.calls.append(
            {
                "work_tree": work_tree,
                "title": issue_title,
                "body": issue_body,
                "hints": hints,
                "config": config,
                "repo": repo,
                "installation_id": installation_id,
            }
        )
        if self.on_start is not None:
            self.on_start(work_tree)
        loc = self.localisation or scripted_localisation(sorted(self.edits) or ["README.md"])
        on_event(PipelineEvent("localised", localisation=loc))
        if self.status is OutcomeStatus.NEEDS_HINT and not hints.anyway:
            return PipelineOutcome(OutcomeStatus.NEEDS_HINT, localisation=loc, model="scripted")
        while self.gate is not None and not self.gate():
            if should_cancel():
                return PipelineOutcome(OutcomeStatus.CANCELLED, localisation=loc)
            time.sleep(0.05)
        if should_cancel():
            return PipelineOutcome(OutcomeStatus.CANCELLED, localisation=loc)
        for rel, text in self.edits.items():
            (work_tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (work_tree / rel).write_text(text)
        passed = self.status in (OutcomeStatus.SUCCESS, OutcomeStatus.NEEDS_HINT)
        attempt = Attempt(
            1,
            "passed" if passed else "assertion",
            "scripted edit",
            3 if passed else 2,
            0 if passed else 1,
            tokens=1200,
            cost_usd=0.0021,
        )
        on_event(PipelineEvent("attempt", attempt=attempt))
        if passed:  # new files too, as the real pipeline's diff holds them
            git(work_tree, "add", "--all")
        diff = git(work_tree, "diff", "--cached", "HEAD") if passed else ""
        return PipelineOutcome(
            status=self.status if self.status is not OutcomeStatus.NEEDS_HINT else OutcomeStatus.SUCCESS,
            diff=diff,
            summary=f"Scripted change to {', '.join(sorted(self.edits))}.",
            explanation="" if passed else self.explanation,
            attempts=(attempt,),
            tokens=1200,
            cost_usd=0.0021,
            model="scripted/fake",
            localisation=loc,
            evidence=self.evidence if passed else TestEvidence(),
        )


@dataclass
class FakeQueue:
    """:class:`repomind.bot.queue.JobQueue` that records what was enqueued (run nothing by itself)."""

    deliveries: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    training: list[int] = field(default_factory=list)
    purges: list[tuple[int, list[str]]] = field(default_factory=list)

    def enqueue_delivery(self, delivery_id: str, *, delay_s: float = 0.0) -> None:
        self.deliveries.append(delivery_id)
        self.delays.append(delay_s)

    def enqueue_job(self, job_id: int) -> None:
        self.jobs.append(job_id)

    def enqueue_training(self, feedback_id: int) -> None:
        self.training.append(feedback_id)

    def enqueue_purge(self, installation_id: int, repos: list[str]) -> None:
        self.purges.append((installation_id, list(repos)))


def scripted_pipeline(settings: object) -> FakePipeline:
    """``REPOMIND_PIPELINE=repomind.testing:scripted_pipeline`` for worker subprocesses in tests: the
    script is the JSON file named by ``REPOMIND_FAKE_PIPELINE`` (``edits``, ``status``, and optional
    ``started_file`` touched at start and ``release_file`` waited for before editing)."""
    import json
    import os

    script = json.loads(Path(os.environ["REPOMIND_FAKE_PIPELINE"]).read_text())
    started = script.get("started_file")
    release = script.get("release_file")
    return FakePipeline(
        edits=dict(script.get("edits", {})),
        status=OutcomeStatus(script.get("status", "success")),
        on_start=(lambda _tree: Path(started).touch()) if started else None,
        gate=(lambda: Path(release).exists()) if release else None,
    )


__all__ = [
    "FakeGitHub",
    "FakeGitHubFactory",
    "FakePipeline",
    "FakeQueue",
    "FakeSandbox",
    "GitHubState",
    "StandInGitHub",
    "git",
    "make_git_repo",
    "scripted_localisation",
    "scripted_pipeline",
]
