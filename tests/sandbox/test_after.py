"""The steps after a sandboxed command (OOM probe, files read back, the diff) are bounded in time and
output, whatever the command left behind: a git filter or fsmonitor, a ~/.gitconfig, a huge file, a FIFO."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.toolchain.python import junit, pytest_output
from repomind.sandbox import DockerSandbox, Environment, EnvironmentSpec, Limits, Outcome
from repomind.sandbox.images import base_image_tag

pytestmark = pytest.mark.docker
MIB = 2**20


@pytest.fixture
def base_env() -> Environment:
    return Environment(image=base_image_tag(), key="base", cached=True, setup_seconds=0.0)


@pytest.fixture
def tree(make_repo: Any) -> Path:
    return make_repo({"hello.txt": "hello\n", "pkg/mod.py": "X = 1\n"})


def test_a_huge_diff_is_capped_with_a_note(docker_client: Any, base_env: Environment, tree: Path) -> None:
    box = DockerSandbox(
        docker_client, limits=Limits(timeout_s=60, readback_bytes=1 * MIB, after_timeout_s=30)
    )
    start = time.monotonic()
    res = box.run(
        base_env,
        tree,
        ["python3", "-c", "open('big.txt', 'w').write(('x' * 99 + '\\n') * 200_000)"],  # 20 MB
    )
    assert res.ok, res.output
    assert res.diff is None
    assert f"the diff is larger than {MIB} bytes: not captured" in res.notes
    assert time.monotonic() - start < 60


def test_a_git_filter_that_hangs_is_cut_off(docker_client: Any, base_env: Environment, tree: Path) -> None:
    # The command leaves a clean filter that git runs on every file when the diff is taken.
    box = DockerSandbox(docker_client, limits=Limits(timeout_s=60, after_timeout_s=3))
    start = time.monotonic()
    res = box.run(
        base_env,
        tree,
        "git config filter.slow.clean 'sleep 60' && echo '* filter=slow' > .gitattributes"
        " && echo changed >> hello.txt",
    )
    elapsed = time.monotonic() - start
    assert res.ok, res.output
    assert res.diff is None
    assert "the diff could not be read: it took longer than 3 s" in res.notes
    assert elapsed < 30, elapsed


def test_hostile_git_settings_do_not_run_when_the_diff_is_taken(
    docker_client: Any, base_env: Environment, tree: Path
) -> None:
    # An fsmonitor hook in the local config, an external diff and a pager in ~/.gitconfig (HOME is /tmp).
    box = DockerSandbox(docker_client, limits=Limits(timeout_s=60, after_timeout_s=20))
    start = time.monotonic()
    res = box.run(
        base_env,
        tree,
        "git config core.fsmonitor 'sleep 300' && printf '#!/bin/sh\\necho PWNED\\n' > /tmp/evil"
        " && chmod +x /tmp/evil"
        " && printf '[diff]\\n\\texternal = /tmp/evil\\n[core]\\n\\tpager = /tmp/evil\\n' > /tmp/.gitconfig"
        " && echo changed >> hello.txt",
    )
    assert res.ok, res.output
    assert res.diff is not None and "+changed" in res.diff and "PWNED" not in res.diff, res.notes
    assert time.monotonic() - start < 20


def test_the_junit_report_is_read_back_and_stays_out_of_the_diff(docker_client: Any, make_repo: Any) -> None:
    repo = make_repo(
        {
            "tests/test_a.py": "import pytest\n\ndef test_ok():\n    pass\n\n"
            "def test_skip():\n    pytest.skip('x')\n\n@pytest.mark.xfail\ndef test_known():\n    assert 0\n"
        }
    )
    box = DockerSandbox(docker_client, limits=Limits(timeout_s=120))
    env = box.prepare(repo, EnvironmentSpec("fixture-junit"))  # the base image has no pytest
    argv = pytest_output.pytest_argv(["tests"])
    res = box.run(env, repo, argv, capture_diff=True, collect=(junit.REPORT_PATH,))
    assert res.exit_code == 0, res.output
    report = res.collected[junit.REPORT_PATH]
    results, source, _note = pytest_output.read_results(res.output, report)
    assert source == "junit"
    assert results == {
        "tests/test_a.py::test_ok": "passed",
        "tests/test_a.py::test_skip": "skipped",
        "tests/test_a.py::test_known": "xfailed",
    }
    assert res.diff == ""  # pytest wrote nothing into the work copy: the report is under /tmp


@pytest.mark.parametrize(
    ("trap", "note"),
    [
        (f"mkfifo {junit.REPORT_PATH}", "could not be read: it took longer than 3 s"),
        (f"ln -s /dev/zero {junit.REPORT_PATH}", f"is larger than {MIB} bytes: not read"),
    ],
)
def test_a_report_that_is_a_trap_is_not_read(
    docker_client: Any, base_env: Environment, tree: Path, trap: str, note: str
) -> None:
    box = DockerSandbox(docker_client, limits=Limits(timeout_s=60, after_timeout_s=3, readback_bytes=1 * MIB))
    start = time.monotonic()
    res = box.run(base_env, tree, trap, capture_diff=False, collect=(junit.REPORT_PATH,))
    assert res.outcome is Outcome.OK, res.output
    assert res.collected == {}
    assert f"{junit.REPORT_PATH} {note}" in res.notes
    assert time.monotonic() - start < 30


def test_a_missing_report_is_no_error(docker_client: Any, base_env: Environment, tree: Path) -> None:
    box = DockerSandbox(docker_client, limits=Limits(timeout_s=60))
    res = box.run(base_env, tree, ["true"], capture_diff=False, collect=(junit.REPORT_PATH,))
    assert res.ok and res.collected == {} and res.notes == ()
