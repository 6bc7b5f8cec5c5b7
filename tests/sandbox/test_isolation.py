"""The sandbox's isolation and limits, against a real Docker daemon."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from repomind.sandbox import DockerSandbox, Environment, Limits, Outcome
from repomind.sandbox.images import base_image_tag

pytestmark = pytest.mark.docker
PSEUDO_FS = {"proc", "sysfs", "cgroup", "cgroup2", "tmpfs", "devpts", "mqueue", "overlay", "securityfs"}


@pytest.fixture
def box(docker_client: Any) -> DockerSandbox:
    return DockerSandbox(docker_client, limits=Limits(timeout_s=60, memory_bytes=512 * 2**20, pids=128))


@pytest.fixture
def base_env() -> Environment:
    # The bare base image: isolation does not depend on the repository's environment.
    return Environment(image=base_image_tag(), key="base", cached=True, setup_seconds=0.0)


@pytest.fixture
def tree(make_repo: Any) -> Path:
    return make_repo({"hello.txt": "hello\n", "pkg/mod.py": "X = 1\n"})


def test_only_loopback_without_network(box: DockerSandbox, base_env: Environment, tree: Path) -> None:
    res = box.run(base_env, tree, "tail -n +3 /proc/net/dev | cut -d: -f1")
    assert res.ok, res.output
    assert [line.strip() for line in res.stdout.splitlines()] == ["lo"]


def test_network_flag_adds_an_interface(box: DockerSandbox, base_env: Environment, tree: Path) -> None:
    res = box.run(base_env, tree, "tail -n +3 /proc/net/dev | cut -d: -f1", network=True)
    assert res.ok, res.output
    assert "eth0" in {line.strip() for line in res.stdout.splitlines()}


def test_runs_as_non_root_without_capabilities(box: DockerSandbox, base_env: Environment, tree: Path) -> None:
    res = box.run(base_env, tree, "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
    assert res.ok, res.output
    lines = res.stdout.split()
    assert lines[0] == "1000"
    status = dict(zip(lines[1::2], lines[2::2], strict=True))
    assert status == {"CapEff:": "0000000000000000", "NoNewPrivs:": "1"}


def test_root_is_read_only_and_work_dir_writable(
    box: DockerSandbox, base_env: Environment, tree: Path
) -> None:
    res = box.run(
        base_env,
        tree,
        "touch /etc/evil; echo rc=$?; touch /usr/evil; echo rc=$?; "
        "echo new > /work/created.txt && echo changed >> hello.txt && echo ok",
    )
    assert res.ok, res.output
    assert res.stdout.split() == ["rc=1", "rc=1", "ok"]
    assert res.stderr.count("Read-only file system") == 2
    # The diff comes out and applies to the host's copy.
    assert res.diff is not None and "+changed" in res.diff and "created.txt" in res.diff
    subprocess.run(["git", "apply"], input=res.diff, text=True, cwd=tree, check=True)
    assert (tree / "hello.txt").read_text() == "hello\nchanged\n"
    assert (tree / "created.txt").read_text() == "new\n"


def test_only_the_work_copy_comes_from_the_host(
    box: DockerSandbox, base_env: Environment, tree: Path
) -> None:
    listing = box.run(base_env, tree, "ls -A /work")
    assert sorted(listing.stdout.split()) == [".git", "hello.txt", "pkg"]  # .git: the sandbox's own baseline
    mounts = box.run(base_env, tree, ["cat", "/proc/self/mountinfo"])
    binds = {}
    for line in mounts.stdout.splitlines():
        fields, _, fs = line.partition(" - ")
        fields_ = fields.split()
        fstype = fs.split()[0]
        if fstype not in PSEUDO_FS and fields_[3] != "/":  # a bind mount of a host directory or file
            binds[fields_[4]] = fields_[3]
    # Docker's own per-container files for name resolution, and the work copy's volume; nothing else.
    assert set(binds) <= {"/work", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}, binds
    assert "/volumes/" in binds["/work"]
    assert all("/var/lib/docker/" in root for root in binds.values()), binds


def test_host_environment_is_not_passed(
    box: DockerSandbox, base_env: Environment, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPOMIND_FAKE_SECRET", "s3cr3t-value-for-test")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_faketokenfaketokenfaketoken")
    res = box.run(base_env, tree, ["env"])
    assert res.ok, res.output
    assert "s3cr3t-value-for-test" not in res.stdout
    assert "REPOMIND_FAKE_SECRET" not in res.stdout
    assert "GITHUB_TOKEN" not in res.stdout
    assert "HOME=/tmp" in res.stdout


def test_fork_bomb_is_stopped_by_the_pids_limit(
    docker_client: Any, base_env: Environment, tree: Path
) -> None:
    box = DockerSandbox(docker_client, limits=Limits(pids=64, timeout_s=30))
    count = box.run(
        base_env,
        tree,
        [
            "python3",
            "-c",
            "import subprocess\nps = []\ntry:\n    for _ in range(500):\n"
            "        ps.append(subprocess.Popen(['sleep', '60']))\n"
            "except OSError as e:\n    print('stopped', len(ps), e.errno)\n",
        ],
    )
    match = re.search(r"stopped (\d+) 11", count.stdout)
    assert match, count.output
    assert int(match.group(1)) < 64
    start = time.monotonic()
    bomb = DockerSandbox(docker_client, limits=Limits(pids=64, timeout_s=5)).run(
        base_env, tree, "bomb() { bomb | bomb & }; bomb; sleep 30"
    )
    assert time.monotonic() - start < 30
    assert bomb.outcome in (Outcome.TIMEOUT, Outcome.FAILED)
    assert "Resource temporarily unavailable" in bomb.stderr


def test_memory_hog_is_killed_and_reported_oom(docker_client: Any, base_env: Environment, tree: Path) -> None:
    box = DockerSandbox(docker_client, limits=Limits(memory_bytes=128 * 2**20, timeout_s=60))
    res = box.run(base_env, tree, ["python3", "-c", "a = bytearray(1024 * 1024 * 1024); print('survived')"])
    assert res.outcome is Outcome.OOM
    assert res.exit_code == 137
    assert "survived" not in res.stdout
    assert any("out of memory" in note for note in res.notes)


def test_sleep_past_the_timeout_is_killed(docker_client: Any, base_env: Environment, tree: Path) -> None:
    box = DockerSandbox(docker_client, limits=Limits(timeout_s=2))
    start = time.monotonic()
    res = box.run(base_env, tree, "echo started; sleep 60; echo never")
    assert res.outcome is Outcome.TIMEOUT
    assert time.monotonic() - start < 15
    assert res.stdout.strip() == "started"
    assert any("timed out after 2 s" in note for note in res.notes)


def test_failure_exit_status_is_kept(box: DockerSandbox, base_env: Environment, tree: Path) -> None:
    res = box.run(base_env, tree, "echo out; echo err >&2; exit 7")
    assert (res.outcome, res.exit_code, res.stdout, res.stderr) == (Outcome.FAILED, 7, "out\n", "err\n")


def test_output_is_capped_keeping_head_and_tail(
    docker_client: Any, base_env: Environment, tree: Path
) -> None:
    box = DockerSandbox(docker_client, limits=Limits(output_bytes=4096))
    res = box.run(base_env, tree, ["python3", "-c", "print('FIRST'); print('x' * 2_000_000); print('LAST')"])
    assert res.ok
    assert res.stdout.startswith("FIRST")
    assert res.stdout.rstrip().endswith("LAST")
    assert res.stdout_dropped > 1_990_000
    assert f"[... {res.stdout_dropped} bytes dropped ...]" in res.stdout


def test_container_removed_on_ctrl_c(box: DockerSandbox, base_env: Environment, tree: Path) -> None:
    # SIGINT to the main thread, as Ctrl-C delivers it: it interrupts the blocking read of the output.
    # Python's own handler, as in a terminal: a shell that starts pytest in the background (a CI job
    # runner may) leaves SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(2.0, signal.pthread_kill, args=(threading.main_thread().ident, signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            box.run(base_env, tree, "sleep 60")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 20
    # the autouse fixture asserts that no sandbox container is left
