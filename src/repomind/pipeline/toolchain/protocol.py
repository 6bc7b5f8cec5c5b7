"""The toolchain seam: what the pipeline must know about a repository's language, behind one Protocol.

A :class:`Toolchain` says how to recognise a repository of its language, which sandbox environment to
ask for, which files are tests and which tests a change concerns, the command that runs them and how to
read its output, the cheap lint that runs before any test, and the facts the patch prompt states (the
language, the test framework, the code fence). The test stage (:mod:`repomind.pipeline.solve.verify`)
and the attempt (:mod:`repomind.pipeline.solve.attempt`) only call these; the Python implementation is
:class:`repomind.pipeline.toolchain.python.PythonToolchain`, chosen per repository by
:func:`repomind.pipeline.toolchain.select.toolchain_for`.

Test ids follow one convention for every toolchain: ``path::name`` where the runner names the file
(pytest's node ids), else a bare name. Outcomes use one vocabulary: ``passed``, ``failed``, ``error``,
``skipped``, ``xfailed``, ``xpassed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from repomind.repoconfig import RepoConfig
from repomind.sandbox.types import EnvironmentSpec

#: Outcomes that count as a pass when comparing runs: only a pass. A skip, an xfail or an xpass is not.
GOOD = frozenset({"passed"})
#: Outcomes of a test that did not run to a verdict of its own: shown as such, never as a pass.
NOT_RUN = frozenset({"skipped", "xfailed", "xpassed"})


@dataclass(frozen=True)
class TestCommand:
    """A test run in the sandbox: its argument vector, and the files it leaves there to read back
    (absolute paths in the sandbox, such as a report the runner writes)."""

    __test__ = False  # not a pytest test class

    argv: tuple[str, ...]
    collect: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestResults:
    """Per-test outcomes read from a run: ``{test id: outcome}``, where they came from (a report, the
    printed summary...), and a note when the better source could not be used."""

    __test__ = False

    outcomes: dict[str, str]
    source: str
    note: str = ""


@dataclass(frozen=True)
class LintProblem:
    """One problem in a changed file; ``line`` is 1-based."""

    path: str
    line: int
    kind: Literal["syntax", "undefined-name"]
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class PromptFacts:
    """What the patch prompt says about the language: its name, the code fence's language, an example
    source path, the test framework and where a new test goes."""

    language: str
    fence: str
    example_path: str
    test_framework: str
    example_test_path: str


class Toolchain(Protocol):
    """A language's tools, as the pipeline uses them. One real member per language."""

    @property
    def name(self) -> str:
        """Short lower-case name, as a repository's ``language:`` key spells it (``python``)."""
        ...

    @property
    def facts(self) -> PromptFacts:
        """What the patch prompt says about the language."""
        ...

    # -- choosing and setting up --------------------------------------------------------------------
    def claims(self, files: Sequence[str]) -> bool:
        """Whether a repository with these tracked files (paths from its root) is of this language."""
        ...

    def environment(self, repo_name: str, config: RepoConfig) -> EnvironmentSpec:
        """The sandbox environment to prepare for the repository, from its configuration."""
        ...

    # -- which tests --------------------------------------------------------------------------------
    def is_test_file(self, path: str) -> bool:
        """Test code, support files included: laid over the unpatched tree for the "before" run."""
        ...

    def is_runnable_test(self, path: str) -> bool:
        """A test file the runner can be given on its command line (not a support file)."""
        ...

    def related_tests(
        self, work_tree: Path, test_files: Sequence[str], sources: Sequence[str], names: Sequence[str]
    ) -> list[str]:
        """Of ``test_files``, those that define a test named in ``names`` or test one of ``sources``
        (changed non-test files). Files are read through :mod:`repomind.sandbox.repofs`."""
        ...

    # -- running them and reading the output ------------------------------------------------------
    def test_command(self, tests: Sequence[str] = ()) -> TestCommand:
        """The command that runs ``tests`` (test files or test ids; the whole suite when empty)."""
        ...

    def configured_command(self, command: str) -> TestCommand:
        """A repository's configured ``test_command`` (a shell line), run so that outcomes can be read."""
        ...

    def names_one_test(self, test_id: str) -> bool:
        """Whether ``test_id`` can be given to :meth:`test_command` to rerun that test alone."""
        ...

    def read_results(self, output: str, collected: Mapping[str, bytes]) -> TestResults:
        """Per-test outcomes from a run's output and the files it left (``TestCommand.collect``)."""
        ...

    def could_not_run(self, exit_code: int) -> bool:
        """Whether the runner's exit status says it could not run at all (usage or internal error)."""
        ...

    def load_errors(self, log: str) -> list[str]:
        """Lines of ``log`` that say the code under test cannot be loaded (imported, compiled)."""
        ...

    def failure_sections(self, log: str, test_ids: Sequence[str], *, limit: int) -> str:
        """The parts of ``log`` about ``test_ids`` (the log itself when none is found), trimmed."""
        ...

    # -- before any test ----------------------------------------------------------------------------
    def lint(
        self, work_tree: Path, paths: Sequence[str], *, before: Mapping[str, str] | None = None
    ) -> list[LintProblem]:
        """Syntax errors and undefined names in the changed ``paths``, leaving out those already in
        ``before`` (path → text before the change)."""
        ...


def trim(text: str, limit: int) -> str:
    """Keep the start and the end of a long text (the end of a test log says the most)."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    return f"{text[:head]}\n... ({len(text) - limit} characters left out) ...\n{text[-tail:]}"
