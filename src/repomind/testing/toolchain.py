"""The fake of the toolchain boundary (:class:`repomind.pipeline.toolchain.Toolchain`): a small
shell-script "language", so that tests can run the real pipeline on a repository that is not Python.

Its repositories hold ``run_tests.sh`` at the root and test files ``tests/test_*.sh`` whose tests are
shell functions ``test_NAME() { ...; }``. The runner is ``sh run_tests.sh [FILE | FILE::NAME ...]`` and
prints one ``PASS FILE::NAME`` or ``FAIL FILE::NAME`` line per test; its lint reports an ``if``
without its ``fi`` as a syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from repomind.pipeline.toolchain.protocol import (
    LintProblem,
    PromptFacts,
    TestCommand,
    TestResults,
    trim,
)
from repomind.repoconfig import RepoConfig
from repomind.sandbox import repofs
from repomind.sandbox.types import EnvironmentSpec

RUNNER = "run_tests.sh"
SHELL_FACTS = PromptFacts(
    language="POSIX shell",
    fence="sh",
    example_path="path/to/file.sh",
    test_framework="run_tests.sh",
    example_test_path="tests/test_<module>.sh",
)
_LINE = re.compile(r"^(PASS|FAIL) (\S+)$", re.M)
_KEYWORD = re.compile(r"^\s*(if|fi)\b", re.M)


@dataclass
class FakeToolchain:
    """A shell-script toolchain: ``sh run_tests.sh``, ``PASS``/``FAIL`` lines, an ``if``/``fi`` lint.

    Every call that reads outcomes or lints is recorded (``read``, ``linted``), so that a test can see
    the pipeline asked this toolchain and no other."""

    name: str = "shell"
    facts: PromptFacts = SHELL_FACTS
    read: list[str] = field(default_factory=list)
    linted: list[tuple[str, ...]] = field(default_factory=list)

    def claims(self, files: Sequence[str]) -> bool:
        return RUNNER in files

    def environment(self, repo_name: str, config: RepoConfig) -> EnvironmentSpec:
        return EnvironmentSpec(repo_name, setup_command=config.setup_command or ": nothing to install")

    def is_test_file(self, path: str) -> bool:
        p = PurePosixPath(path)
        return p.suffix == ".sh" and p.parts[0] == "tests" and p.name.startswith("test_")

    def is_runnable_test(self, path: str) -> bool:
        return self.is_test_file(path)

    def related_tests(
        self, work_tree: Path, test_files: Sequence[str], sources: Sequence[str], names: Sequence[str]
    ) -> list[str]:
        stems = [PurePosixPath(s).stem for s in sources]
        related = []
        for rel in test_files:
            text = repofs.read_text_or_none(work_tree, rel) or ""
            if any(re.search(rf"^{re.escape(n)}\(\)", text, re.M) for n in names) or any(
                stem in PurePosixPath(rel).stem for stem in stems
            ):
                related.append(rel)
        return related

    def test_command(self, tests: Sequence[str] = ()) -> TestCommand:
        return TestCommand(("sh", RUNNER, *tests))

    def configured_command(self, command: str) -> TestCommand:
        return TestCommand(("sh", "-c", command))

    def names_one_test(self, test_id: str) -> bool:
        return "::" in test_id

    def read_results(self, output: str, collected: Mapping[str, bytes]) -> TestResults:
        self.read.append(output)
        outcomes = {
            m.group(2): "passed" if m.group(1) == "PASS" else "failed" for m in _LINE.finditer(output)
        }
        return TestResults(outcomes, "pass-fail-lines")

    def could_not_run(self, exit_code: int) -> bool:
        return exit_code == 127  # sh: the runner or a command it needs was not found

    def load_errors(self, log: str) -> list[str]:
        return [line for line in log.splitlines() if ": not found" in line]

    def failure_sections(self, log: str, test_ids: Sequence[str], *, limit: int) -> str:
        lines = [line for line in log.splitlines() if any(t in line for t in test_ids)]
        return trim("\n".join(lines) or log, limit)

    def lint(
        self, work_tree: Path, paths: Sequence[str], *, before: Mapping[str, str] | None = None
    ) -> list[LintProblem]:
        self.linted.append(tuple(paths))
        problems = []
        for rel in paths:
            if not rel.endswith(".sh") or not repofs.is_regular_file(work_tree, rel):
                continue
            text = repofs.read_text(work_tree, rel)
            depth = 0
            for match in _KEYWORD.finditer(text):
                depth += 1 if match.group(1) == "if" else -1
            if depth != 0:
                line = text.count("\n", 0, len(text)) or 1
                problems.append(LintProblem(rel, line, "syntax", "an `if` without its `fi`"))
        return problems
