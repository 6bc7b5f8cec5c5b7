"""The fake of the sandbox boundary (:class:`repomind.sandbox.protocol.Sandbox`): runs nothing, answers
from a script and records every call."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repomind.sandbox.errors import DockerUnavailableError
from repomind.sandbox.inventory import ImageInfo
from repomind.sandbox.limits import Limits
from repomind.sandbox.types import Command, Environment, EnvironmentSpec, ExecResult, Outcome, as_argv
from repomind.testing.git import git

#: A scripted sandbox command: gets the argv and the work tree, returns (exit code, stdout, stderr).
Script = Callable[[tuple[str, ...], Path], tuple[int, str, str]]
#: Reads back a file the command left in the sandbox: gets its path and the work tree; None: absent.
ReadBack = Callable[[str, Path], bytes | None]


@dataclass
class FakeSandbox:
    """A sandbox that runs nothing: commands are answered by ``script`` and every call is recorded.

    Files asked for with ``collect`` come from ``read_back`` (none when it is not given). ``isolated``
    makes it behave as the real sandbox does with the work tree: ``script`` gets a throw-away copy, and
    the result's ``diff`` (with ``capture_diff``) is what the command changed there, the work tree
    itself untouched; otherwise the script gets the work tree and the diff is ``git diff`` of it."""

    script: Script = field(default=lambda _argv, _tree: (0, "", ""))
    read_back: ReadBack | None = None
    isolated: bool = False
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
        if self.isolated:
            with tempfile.TemporaryDirectory(prefix="fake-sandbox-") as scratch:
                copy = Path(scratch) / "work"
                shutil.copytree(work_tree, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
                git(copy, "init", "-q")
                git(copy, "add", "-A")
                git(copy, "commit", "-q", "--allow-empty", "-m", "baseline")
                code, out, err = self.script(argv, copy)
                diff = None
                if capture_diff:
                    git(copy, "add", "-A")
                    diff = git(copy, "diff", "--cached", "--binary", "--no-color", "HEAD")
        else:
            code, out, err = self.script(argv, work_tree)
            diff = git(work_tree, "diff") if capture_diff and (work_tree / ".git").exists() else None
        outcome = Outcome.OK if code == 0 else Outcome.TIMEOUT if code == 124 else Outcome.FAILED
        collected: dict[str, bytes] = {}
        if self.read_back is not None:
            for path in collect:
                data = self.read_back(path, work_tree)
                if data is not None:
                    collected[path] = data
        seconds = time.monotonic() - start
        return ExecResult(argv, code, out, err, seconds, outcome, diff=diff, collected=collected)


@dataclass
class FakeImages:
    """The fake of :class:`repomind.sandbox.inventory.ImageInventory`: answers ``listed``, or, with
    ``down``, raises :class:`DockerUnavailableError` as the real one does when Docker cannot be reached."""

    listed: list[ImageInfo] = field(default_factory=list)
    down: bool = False

    def images(self) -> list[ImageInfo]:
        if self.down:
            raise DockerUnavailableError("cannot reach the Docker daemon at the local socket: (fake) refused")
        return list(self.listed)
