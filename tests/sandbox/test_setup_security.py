"""Issue #17 items 1 and 9: nothing a repository declares runs on the host or reaches a host secret; the
setup container is confined; a repository may name only an allow-listed image."""

from __future__ import annotations

import ast
import io
import os
import stat
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from repomind.sandbox import DockerSandbox, EnvironmentSetupError, EnvironmentSpec
from repomind.sandbox.environment import check_image
from repomind.sandbox.errors import SETUP_OUTPUT_CAP, ImageNotAllowedError
from repomind.sandbox.limits import Limits
from repomind.sandbox.requirements import RequirementRefusedError
from repomind.sandbox.setup_plan import detect

CANARY = "canary-7f3e9b2c-host-secret"
SRC = Path(__file__).resolve().parents[2] / "src" / "repomind"


def _canary_file(tmp_path: Path) -> Path:
    path = tmp_path / "host-secret.txt"
    path.write_text(f"{CANARY}\n")
    return path


@pytest.mark.parametrize(
    "line",
    [
        "-r{secret}",
        "--requirement={secret}",
        "--index-url https://example.invalid/simple",
        "-e ../elsewhere",
        "git+https://example.invalid/x.git#egg=x",
        "x @ file://{secret}",
        "./vendored/pkg-1.0.tar.gz",
        "https://example.invalid/pkg-1.0.tar.gz",
        "x==${{REPOMIND_WEBHOOK_SECRET}}",
    ],
)
def test_non_pep508_requirement_in_a_requirement_file_is_refused_by_line(
    make_repo: Any, tmp_path: Path, line: str
) -> None:
    secret = _canary_file(tmp_path)
    repo = make_repo({"requirements.txt": f"six\n# a comment\n{line.format(secret=secret)}\n"})
    with pytest.raises(RequirementRefusedError) as info:
        detect(repo)
    message = str(info.value)
    assert "requirements.txt line 3" in message and "setup_command" in message and "image" in message
    assert CANARY not in message and CANARY not in info.value.output


@pytest.mark.parametrize(
    "files, where",
    [
        (
            {
                "pyproject.toml": '[project]\nname = "p"\nversion = "1"\n'
                'dependencies = [\n  "six",\n  "-r{secret}",\n]\n'
            },
            "pyproject.toml line 6 ([project].dependencies)",
        ),
        (
            {"pyproject.toml": '[build-system]\nrequires = ["setuptools", "x @ file://{secret}"]\n'},
            "pyproject.toml line 2 ([build-system].requires)",
        ),
        (
            {"setup.cfg": "[metadata]\nname = p\n[options]\ninstall_requires =\n    six\n    -r{secret}\n"},
            "setup.cfg line 6",
        ),
        (
            {"setup.py": "from setuptools import setup\n\nsetup(\n    install_requires=['-r{secret}'],\n)\n"},
            "setup.py line 4",
        ),
        (
            {
                "pyproject.toml": '[project]\nname = "p"\nversion = "1"\n[project.optional-dependencies]\n'
                'test = ["pkg @ git+https://example.invalid/pkg"]\n'
            },
            "pyproject.toml line 5",
        ),
    ],
)
def test_project_file_requirements_are_pep508_or_refused(
    make_repo: Any, tmp_path: Path, files: dict[str, str], where: str
) -> None:
    secret = _canary_file(tmp_path)
    repo = make_repo({name: text.replace("{secret}", str(secret)) for name, text in files.items()})
    with pytest.raises(RequirementRefusedError) as info:
        detect(repo)
    assert where in str(info.value)
    assert CANARY not in str(info.value)


def test_includes_inside_the_repository_are_followed_and_outside_refused(make_repo: Any) -> None:
    repo = make_repo(
        {
            "requirements.txt": "-r requirements/base.txt\n-e .\nsix\n",
            "requirements/base.txt": "attrs>=22 ; python_version >= '3.8'\n",
            "setup.py": "from setuptools import setup\nsetup(name='p')\n",
        }
    )
    plan = detect(repo)
    assert {"six", 'attrs>=22; python_version >= "3.8"'} <= set(plan.requirements)
    assert "requirements/base.txt" in plan.dependency_files  # hashed into the cache key too
    (repo / "requirements.txt").write_text("-r ../../etc/passwd\n")
    with pytest.raises(RequirementRefusedError, match="outside the repository"):
        detect(repo)
    (repo / "requirements.txt").write_text("-r requirements/link.txt\n")
    (repo / "requirements/link.txt").symlink_to("/etc/passwd")
    with pytest.raises(RequirementRefusedError, match="symlink"):
        detect(repo)


def test_setup_output_is_capped_head_and_tail() -> None:
    output = "HEAD-" + "x" * 300_000 + "-TAIL"
    exc = EnvironmentSetupError("setting up failed", output=output)
    assert len(exc.output) < SETUP_OUTPUT_CAP + 100 < 65_536
    assert exc.output.startswith("HEAD-") and exc.output.endswith("-TAIL") and "dropped" in exc.output
    assert len(str(exc)) < 65_536


def test_every_host_subprocess_gets_an_explicit_environment() -> None:
    """No ``subprocess`` call in src/ inherits the worker's environment (``env=`` is always given).

    ``cli/serve.py`` starts the worker itself, which needs the worker's settings.
    """
    missing = []
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).as_posix() == "cli/serve.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "subprocess"
                and node.func.attr in ("run", "Popen", "call", "check_call", "check_output")
                and not any(k.arg == "env" for k in node.keywords)
            ):
                missing.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert missing == []


def _env_dumper(tmp_path: Path) -> tuple[Path, Path]:
    """A fake ``git``/``uv`` that writes its environment to a file and fails."""
    bin_dir, dump = tmp_path / "bin", tmp_path / "env-dump.txt"
    bin_dir.mkdir()
    script = bin_dir / "git"
    script.write_text(f"#!/bin/sh\nenv >> {dump}\necho ---- >> {dump}\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir, dump


def test_a_canary_in_the_workers_environment_reaches_no_git_or_uv_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uv

    from repomind.bot.github import gitops
    from repomind.pipeline.localise import gitread
    from repomind.pipeline.solve import workspace
    from repomind.sandbox import wheelhouse, worktree

    bin_dir, dump = _env_dumper(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("REPOMIND_WEBHOOK_SECRET", CANARY)
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    monkeypatch.setattr(uv, "find_uv_bin", lambda: str(bin_dir / "git"))
    (tmp_path / "tree" / ".git").mkdir(parents=True)
    worktree.repo_name(tmp_path / "tree")
    with pytest.raises(gitread.LocaliseError):  # the fake git fails; only its environment matters
        gitread.check_repository(tmp_path / "tree")
    workspace.run_git(tmp_path, "status", check=False)
    with pytest.raises(gitops.GitError):
        gitops.remote_has_branch("https://example.invalid/x.git", "main", token="ghs_faketoken")
    with pytest.raises(EnvironmentSetupError):
        wheelhouse.resolve(["six"], "3.11", (2, 36))
    text = dump.read_text()
    assert text.count("----") == 5  # every child ran
    assert CANARY not in text
    assert "PATH=" in text


# -- with Docker ---------------------------------------------------------------------------------------


def _sdist(tmp_path: Path, marker: Path) -> Path:
    """A local sdist whose ``setup.py`` writes ``marker`` when anything builds it."""
    setup_py = (
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from setuptools import setup\nsetup(name='evil', version='0.1')\n"
    )
    path = tmp_path / "evil-0.1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {
            "evil-0.1/setup.py": setup_py,
            "evil-0.1/PKG-INFO": "Metadata-Version: 1.0\nName: evil\nVersion: 0.1\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.docker
def test_local_sdist_dependency_is_never_built_on_the_host(
    docker_client: Any, make_repo: Any, tmp_path: Path
) -> None:
    """Declared as a literal, and computed in setup.py (found only by the metadata built in the sandbox)."""
    marker = tmp_path / "marker-built-on-host"
    sdist = _sdist(tmp_path, marker)
    literal = make_repo(
        {
            "pyproject.toml": f'[project]\nname = "p"\nversion = "1"\ndependencies = ["evil @ file://{sdist}"]\n'
        }
    )
    computed = make_repo(
        {
            "setup.py": "from setuptools import setup\nimport os\n"
            f"setup(name='p', version='1', install_requires=['evil @ ' + 'file://' + {str(sdist)!r}])\n"
        }
    )
    box = DockerSandbox(docker_client)
    for repo, where in ((literal, "pyproject.toml line 4"), (computed, "Requires-Dist")):
        with pytest.raises(RequirementRefusedError) as info:
            box.prepare(repo, EnvironmentSpec(f"fixture-sdist-{time.time_ns()}"))
        assert where in str(info.value) and "direct reference" in str(info.value)
    assert not marker.exists()


@pytest.mark.docker
def test_setup_container_is_confined(docker_client: Any, make_repo: Any) -> None:
    probe = (
        "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; echo uid=$(id -u);"
        " echo pids=$(cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null);"
        " echo cpu=$(cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null);"
        " echo mem=$(cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)"
    )
    repo = make_repo({"README.md": "x\n"})
    limits = Limits(pids=200, cpus=0.5, memory_bytes=1024 * 2**20)
    box = DockerSandbox(docker_client, limits=limits)
    name = f"fixture-confined-{time.time_ns()}"
    env = box.prepare(repo, EnvironmentSpec(name, setup_command=probe))
    try:
        log = env.log
        assert "CapEff:\t0000000000000000" in log
        assert "NoNewPrivs:\t1" in log
        assert "uid=1000" in log
        assert "pids=200" in log  # cgroup v2 or v1
        assert "cpu=50000 100000" in log or "cpu=50000\n" in log
        assert f"mem={1024 * 2**20}" in log
    finally:
        docker_client.images.remove(env.image, force=True)


def test_configured_image_must_be_allow_listed() -> None:
    with pytest.raises(ImageNotAllowedError, match="REPOMIND_SANDBOX_IMAGES"):
        check_image("python:3.11", ())
    check_image("python:3.11", ("docker.io/library/python:3.11",))
    check_image("repomind-sandbox:py3.9-build", ())  # the operator's own base images
    with pytest.raises(ImageNotAllowedError, match="cached repository environment"):
        check_image("repomind-env/other-repo:0123456789abcdef", ("repomind-env/other-repo:0123456789abcdef",))


@pytest.mark.docker
def test_prepare_refuses_an_image_that_is_not_allow_listed(docker_client: Any, make_repo: Any) -> None:
    repo = make_repo({"README.md": "x\n"})
    box = DockerSandbox(docker_client, allowed_images=("repomind-sandbox:py3.11",))
    for image in ("python:3.11", "repomind-env/someone-else:0123456789abcdef"):
        with pytest.raises(ImageNotAllowedError):
            box.prepare(repo, EnvironmentSpec("fixture-image", image=image))
