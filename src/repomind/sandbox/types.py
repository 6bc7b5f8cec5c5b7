"""Values exchanged with the sandbox: what to set up, what was set up, what a command did."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: A command: an argument vector, or a string run by ``bash -c``.
Command = Sequence[str] | str


def as_argv(command: Command) -> tuple[str, ...]:
    """The argument vector that runs ``command``; a string runs under ``bash -c``."""
    if isinstance(command, str):
        return ("bash", "-c", command)
    argv = tuple(command)
    if not argv:
        raise ValueError("no command to run")
    return argv


class Outcome(enum.StrEnum):
    """How a sandboxed command ended."""

    OK = "ok"  # exit status 0
    FAILED = "failed"  # a non-zero exit status of its own
    TIMEOUT = "timeout"  # killed at the wall-clock limit
    OOM = "oom"  # killed for using more memory than allowed


@dataclass(frozen=True)
class EnvironmentSpec:
    """How to set up a repository's Python environment.

    ``setup_command`` replaces detection when given (from ``.github/repomind.yml``). ``python`` picks the
    base image (``3.11`` by default); ``image`` names a ready image to use as the base instead.
    ``requirements`` are fetched into the wheelhouse besides the detected ones (resolved on their own, so
    that pins given here do not have to agree with the repository's ranges). ``keep_work_tree`` keeps the
    set-up copy of the repository in the image (build products such as compiled extensions, generated
    version files and egg-info stay; each run's copy is laid over it). ``requirement_files`` narrows
    which requirement files detection reads (None: the usual names). ``compiler`` builds on the base
    image's variant with a C compiler and Python headers (``repomind sandbox build --compiler``).
    ``python`` and ``compiler`` left None are chosen from the repository's declared metadata
    (:mod:`repomind.sandbox.interpreter`).
    ``resolve_before`` (an ISO date) resolves the repository's own requirements as they were released by
    then (uv's ``--exclude-newer``), for old projects whose open ranges now pick incompatible releases.
    ``requirement_steps`` are fetched too, one resolution per step, for a ``setup_command`` that installs
    them one step after another (SWE-bench's specifications): two steps may pin one package differently,
    as pip run once per step allows (the later step's pin wins), where one resolution of both would refuse.
    ``recipe`` names how the environment is set up (:mod:`repomind.sandbox.recipes`; the toolchain chooses
    it): ``pip``, the Python recipe, is the one today.
    """

    repo_name: str
    setup_command: str | None = None
    python: str | None = None
    image: str | None = None
    network: bool = False
    requirements: tuple[str, ...] = ()
    keep_work_tree: bool = False
    requirement_files: tuple[str, ...] | None = None
    compiler: bool | None = None
    resolve_before: str | None = None
    recipe: str = "pip"
    requirement_steps: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Environment:
    """A ready environment: an image holding the repository's dependencies."""

    image: str
    key: str
    cached: bool
    setup_seconds: float
    plan: tuple[str, ...] = ()
    log: str = ""
    #: How the Python and image variant were chosen, when from the repository's metadata and not the
    #: default (``Python 3.9 (its classifiers list up to 3.3, ...)``); empty otherwise.
    interpreter: str = ""


@dataclass(frozen=True)
class ExecResult:
    """What one sandboxed command did."""

    command: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    outcome: Outcome
    stdout_dropped: int = 0
    stderr_dropped: int = 0
    diff: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The files asked for with ``collect`` that could be read back (path in the sandbox → content).
    collected: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def output(self) -> str:
        """stdout and stderr together, for messages."""
        if self.stdout and self.stderr:
            return f"{self.stdout.rstrip()}\n{self.stderr}"
        return self.stdout or self.stderr
