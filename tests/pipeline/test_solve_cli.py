"""`repomind solve` and `repomind llm serve` usage errors, as a user meets them (the console script)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.test_cli import run


def test_help_lists_solve_and_llm() -> None:
    res = run("--help")
    assert "solve" in res.stdout and "llm" in res.stdout
    sub = run("solve", "--help")
    for option in (
        "--repo",
        "--rev",
        "--issue-file",
        "--issue-text",
        "--issue",
        "--model",
        "--api-base",
        "--out",
        "--max-attempts",
    ):
        assert option in sub.stdout


def test_usage_errors_are_one_clear_line(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo({"a.py": ""})
    env = {"REPOMIND_MODEL": "", "REPOMIND_DATA_DIR": str(tmp_path / "data")}
    cases = [
        (["solve", "--repo", str(repo), "--model", "m"], "give exactly one of --issue-file"),
        (["solve", "--repo", str(repo), "--issue", "github.com/x", "--model", "m"], "is not an issue URL"),
        (["solve", "--repo", str(repo), "--issue-text", "x"], "no model: pass --model or set REPOMIND_MODEL"),
        (
            ["solve", "--repo", str(tmp_path / "nope"), "--issue-text", "x", "--model", "m"],
            "is not a directory",
        ),
        (["solve", "--repo", str(repo), "--issue-text", "  ", "--model", "m"], "the issue is empty"),
        (
            ["solve", "--repo", str(repo), "--issue-file", str(tmp_path / "no.md"), "--model", "m"],
            "cannot read --issue-file",
        ),
        (
            ["solve", "--repo", str(repo), "--rev", "nosuch", "--issue-text", "x", "--model", "m"],
            "--rev nosuch is not a commit",
        ),
        (
            ["solve", "--repo", str(repo), "--issue-text", "x", "--model", "m", "--out", str(repo)],
            "is not empty",
        ),
        (["llm", "serve", "--gguf", str(tmp_path / "none.gguf")], "does not exist"),
    ]
    for args, message in cases:
        res = run(*args, env=env)
        assert res.returncode == 2, (args, res.stderr)
        assert res.stderr.startswith("error: ") and message in res.stderr, (args, res.stderr)
        assert "Traceback" not in res.stderr
    runs = tmp_path / "data" / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []  # a refused run leaves no run directory
