"""Small pieces of the sandbox that need no daemon."""

from __future__ import annotations

import pytest

from repomind.sandbox import DockerUnavailableError, ImageBuildError, Limits
from repomind.sandbox.client import connect
from repomind.sandbox.environment import env_tag
from repomind.sandbox.images import base_image_tag, suite_for
from repomind.sandbox.output import CappedBuffer
from repomind.sandbox.worktree import list_files, repo_name
from repomind.testing import git


def test_capped_buffer_keeps_head_and_tail() -> None:
    buf = CappedBuffer(10)
    for chunk in (b"abc", b"defgh", b"ijklmnop", b"qrst"):
        buf.write(chunk)
    assert buf.total == 20 and buf.dropped == 10
    assert buf.getvalue() == b"abcde" + b"pqrst"
    assert buf.text() == "abcde\n[... 10 bytes dropped ...]\npqrst"
    small = CappedBuffer(10)
    small.write(b"hello")
    assert small.text() == "hello" and small.dropped == 0


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Limits(timeout_s=0)
    with pytest.raises(ValueError, match="memory"):
        Limits(memory_bytes=1000)


def test_missing_daemon_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(DockerUnavailableError, match="cannot reach the Docker daemon at unix:///nonexistent"):
        connect("unix:///nonexistent/docker.sock", timeout=5)


def test_image_names() -> None:
    assert base_image_tag() == "repomind-sandbox:py3.11"
    assert suite_for("3.9") == "bullseye" and suite_for("3.13") == "trixie"
    with pytest.raises(ImageBuildError, match=r"no sandbox image for Python 2\.7"):
        base_image_tag("2.7")
    assert env_tag("Owner/Repo.Name", "abc") == "repomind-env/owner-repo.name:abc"


def test_compiler_variant_is_its_own_image_and_recipe() -> None:
    from repomind.sandbox import images

    assert base_image_tag("3.9", compiler=True) == "repomind-sandbox:py3.9-build"
    assert "build-essential" in images.packages(compiler=True)
    assert "build-essential" not in images.packages()
    assert images.recipe_hash("3.9", compiler=True) != images.recipe_hash("3.9")


def test_work_tree_files_respect_gitignore(make_repo: object) -> None:
    repo = make_repo({".gitignore": "build/\n", "a.py": "", "build/out.bin": ""})  # type: ignore[operator]
    (repo / "new.py").write_text("")
    (repo / "build" / "more.bin").write_text("")
    assert list_files(repo) == [".gitignore", "a.py", "new.py"]


def test_repo_name_from_origin(make_repo: object) -> None:
    repo = make_repo({"a": ""})  # type: ignore[operator]
    assert repo_name(repo) == repo.name
    git(repo, "remote", "add", "origin", "https://github.com/octo-org/hello-world.git")
    assert repo_name(repo) == "octo-org/hello-world"


def test_manylinux_platforms_for_a_glibc() -> None:
    from repomind.sandbox.wheelhouse import manylinux_platforms

    tags = manylinux_platforms((2, 31), "x86_64")
    assert tags[0] == "manylinux_2_31_x86_64" and "manylinux_2_17_x86_64" in tags
    assert "manylinux_2_34_x86_64" not in tags and tags[-1] == "manylinux1_x86_64"


def test_commands_become_argument_vectors() -> None:
    from repomind.sandbox.types import as_argv

    assert as_argv("pytest -q && echo ok") == ("bash", "-c", "pytest -q && echo ok")
    assert as_argv(["python", "-m", "pytest"]) == ("python", "-m", "pytest")
    with pytest.raises(ValueError, match="no command to run"):
        as_argv([])
