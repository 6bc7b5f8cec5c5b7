"""The host's one reader of repository files refuses symlinks, escapes and non-regular files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repomind.sandbox import repofs


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    canary = tmp_path / "secret.txt"
    canary.write_text("CANARY-SECRET")
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "AGENTS.md").symlink_to(canary)
    (root / "linked").symlink_to(root / "pkg")
    os.mkfifo(root / "pipe")
    return root


def test_reads_a_regular_file(tree: Path) -> None:
    assert repofs.read_text(tree, "pkg/mod.py") == "x = 1\n"
    assert repofs.is_regular_file(tree, "./pkg/mod.py")


@pytest.mark.parametrize("path", ["AGENTS.md", "linked/mod.py"])
def test_refuses_a_symlink_or_a_path_through_one(tree: Path, path: str) -> None:
    with pytest.raises(repofs.UnsafePathError, match="symlink"):
        repofs.read_text(tree, path)
    assert repofs.read_text_or_none(tree, path) is None
    assert not repofs.is_regular_file(tree, path)


@pytest.mark.parametrize("path", ["../secret.txt", "/etc/passwd", "pkg/../../secret.txt"])
def test_refuses_escapes(tree: Path, path: str) -> None:
    with pytest.raises(repofs.UnsafePathError):
        repofs.read_text(tree, path)


def test_refuses_a_fifo_without_blocking(tree: Path) -> None:
    with pytest.raises(repofs.UnsafePathError, match="regular"):
        repofs.read_text(tree, "pipe")


def test_missing_file_and_size_cap(tree: Path) -> None:
    with pytest.raises(FileNotFoundError):
        repofs.read_text(tree, "pkg/none.py")
    assert repofs.read_text_or_none(tree, "nothing/here") is None
    assert repofs.read_bytes(tree, "pkg/mod.py", max_bytes=3) == b"x ="
