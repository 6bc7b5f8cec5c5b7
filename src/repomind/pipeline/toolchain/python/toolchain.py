"""The Python toolchain: pip environments, pytest with its JUnit report, pyflakes, Python prompts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from repomind.pipeline.toolchain.protocol import (
    LintProblem,
    PromptFacts,
    TestCommand,
    TestResults,
)
from repomind.pipeline.toolchain.python import junit, lint, pytest_output
from repomind.repoconfig import RepoConfig
from repomind.sandbox import repofs
from repomind.sandbox.setup_plan import PROJECT_FILES, REQUIREMENT_FILES
from repomind.sandbox.types import EnvironmentSpec

FACTS = PromptFacts(
    language="Python",
    fence="python",
    example_path="path/to/file.py",
    test_framework="pytest",
    example_test_path="tests/test_<module>.py",
)
_SOURCES = (".py", ".pyi")
_IMPORT = re.compile(r"^E?\s*(ModuleNotFoundError|ImportError): .*$", re.M)


def is_test_file(path: str) -> bool:
    """A test module or pytest support file (``conftest.py``, anything under a tests folder)."""
    p = PurePosixPath(path)
    if p.suffix != ".py":
        return False
    return (
        p.name.startswith("test_")
        or p.name.endswith("_test.py")
        or p.name == "conftest.py"
        or any(part in ("tests", "test", "testing") for part in p.parts[:-1])
    )


@dataclass(frozen=True)
class PythonToolchain:
    """Python: the sandbox's pip recipe (:mod:`repomind.sandbox.setup_plan`), pytest, pyflakes."""

    name: str = "python"
    facts: PromptFacts = FACTS

    def claims(self, files: Sequence[str]) -> bool:
        """Python project or requirement files at the root, or Python sources anywhere."""
        markers = {*PROJECT_FILES, *REQUIREMENT_FILES}
        return any(f in markers or f.endswith(_SOURCES) for f in files)

    def environment(self, repo_name: str, config: RepoConfig) -> EnvironmentSpec:
        return EnvironmentSpec(
            repo_name,
            setup_command=config.setup_command,
            python=config.python,
            image=config.image,
            compiler=config.compiler,
            recipe="pip",
        )

    def is_test_file(self, path: str) -> bool:
        return is_test_file(path)

    def is_runnable_test(self, path: str) -> bool:
        return is_test_file(path) and PurePosixPath(path).name != "conftest.py"

    def related_tests(
        self, work_tree: Path, test_files: Sequence[str], sources: Sequence[str], names: Sequence[str]
    ) -> list[str]:
        by_name = [f for f in test_files if _defines_any(work_tree, f, names)]
        related = [f for f in test_files if _tests_module(work_tree, f, sources)]
        return [*by_name, *related]

    def test_command(self, tests: Sequence[str] = ()) -> TestCommand:
        return TestCommand(tuple(pytest_output.pytest_argv(tuple(tests))), (junit.REPORT_PATH,))

    def configured_command(self, command: str) -> TestCommand:
        return TestCommand(tuple(pytest_output.configured_argv(command)), (junit.REPORT_PATH,))

    def names_one_test(self, test_id: str) -> bool:
        return "::" in test_id

    def read_results(self, output: str, collected: Mapping[str, bytes]) -> TestResults:
        results, source, note = pytest_output.read_results(output, collected.get(junit.REPORT_PATH))
        return TestResults(results, source, note)

    def could_not_run(self, exit_code: int) -> bool:
        return exit_code in pytest_output.PYTEST_BROKEN

    def load_errors(self, log: str) -> list[str]:
        return [m.group(0).strip() for m in _IMPORT.finditer(log)]

    def failure_sections(self, log: str, test_ids: Sequence[str], *, limit: int) -> str:
        return pytest_output.failure_sections(log, list(test_ids), limit=limit)

    def lint(
        self, work_tree: Path, paths: Sequence[str], *, before: Mapping[str, str] | None = None
    ) -> list[LintProblem]:
        return lint.lint_changed(work_tree, paths, before=before)


def _read(work_tree: Path, rel: str) -> str:
    """A file's text through :mod:`repomind.sandbox.repofs` ('' for a symlink or a missing file)."""
    return repofs.read_text_or_none(work_tree, rel) or ""


def _defines_any(work_tree: Path, rel: str, names: Sequence[str]) -> bool:
    if not names:
        return False
    text = _read(work_tree, rel)
    return any(re.search(rf"^\s*(?:async\s+)?def {re.escape(n)}\b", text, re.M) for n in names)


def _tests_module(work_tree: Path, rel: str, sources: Sequence[str]) -> bool:
    if not sources:
        return False
    text = _read(work_tree, rel)
    name = PurePosixPath(rel).stem
    for src in sources:
        p = PurePosixPath(src)
        if p.suffix != ".py":
            continue
        module = p.parent.name if p.stem == "__init__" else p.stem
        if name in (f"test_{module}", f"{module}_test"):
            return True
        if re.search(rf"^\s*(?:from|import)\s+[\w.]*\b{re.escape(module)}\b", text, re.M):
            return True
        if re.search(rf"^\s*from\s+[\w.]+\s+import\s+[^\n]*\b{re.escape(module)}\b", text, re.M):
            return True
    return False
