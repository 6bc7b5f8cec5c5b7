from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from repomind.testing import StandInGitHub, make_git_repo
from tests.bot.helpers import REPO

CALC = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}
FIXED = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def github(tmp_path: Path) -> Iterator[StandInGitHub]:
    """The GitHub stand-in with acme/calc (a failing test), issue #1, maintainer alice, outsider mallory."""
    with StandInGitHub(tmp_path / "github") as gh:
        gh.add_repo(REPO, make_git_repo(tmp_path / "src-calc", CALC))
        gh.state.open_issue(
            REPO, "add() subtracts", "calc.add(2, 3) returns -1; test_add fails.", user="alice"
        )
        gh.state.set_permission(REPO, "alice", "maintain")
        gh.state.set_permission(REPO, "mallory", "read")
        yield gh
