"""A tiny SWE-bench-format dataset over a fixture repository, and a specification for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from repomind.testing import git, make_git_repo

REPO = "acme/calc"
FILES = {
    "conftest.py": "",
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a + b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}
FIXED = (
    FILES["calc.py"]
    .replace("return a + b\n", "return a - b\n")
    .replace("def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b")
)
TESTS = FILES["tests/test_calc.py"].replace("import add", "import add, sub") + (
    "\n\ndef test_sub():\n    assert sub(3, 1) == 2\n"
)
SPECS = {
    REPO: {
        "1.0": {
            "python": "3.11",
            "pip_packages": ["pytest"],
            "test_cmd": "pytest -rA",
            "log_parser": "pytest-dev/pytest",
        },
        "0.1": {"python": "2.7", "pip_packages": ["pytest"], "test_cmd": "pytest -rA"},
    }
}
BAD_PATCH = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n"
    "@@ -1,2 +1,2 @@\n-def nothing_like_this():\n+def other():\n     pass\n"
)


def _diff(repo: Path, path: str, text: str) -> str:
    original = (repo / path).read_text()
    (repo / path).write_text(text)
    patch = git(repo, "diff")
    (repo / path).write_text(original)
    return patch


def make_dataset(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """(dataset.jsonl, repos directory, gold patch by instance id) with four instances of ``acme/calc``."""
    repo = make_git_repo(root / "repos" / "acme__calc", FILES)
    commit = git(repo, "rev-parse", "HEAD").strip()
    gold, test_patch = _diff(repo, "calc.py", FIXED), _diff(repo, "tests/test_calc.py", TESTS)
    rows: list[dict[str, Any]] = []
    for number, version in ((1, "1.0"), (2, "1.0"), (3, "1.0"), (4, "0.1")):
        rows.append(
            {
                "instance_id": f"acme__calc-{number}",
                "repo": REPO,
                "base_commit": commit,
                "version": version,
                "problem_statement": "sub() adds instead of subtracting",
                "patch": gold,
                "test_patch": test_patch,
                "FAIL_TO_PASS": json.dumps(["tests/test_calc.py::test_sub"]),
                "PASS_TO_PASS": ["tests/test_calc.py::test_add"],
            }
        )
    dataset = root / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dataset, root / "repos", {r["instance_id"]: gold for r in rows}


def write_specs(root: Path) -> Path:
    path = root / "specs.json"
    path.write_text(json.dumps(SPECS))
    return path
