"""Repository environments: built once, cached by content, installed without network, failing clearly."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from repomind.sandbox import (
    DockerSandbox,
    EnvironmentSetupError,
    EnvironmentSpec,
    ImageNotFoundError,
    Outcome,
)
from repomind.sandbox.client import OWNER_LABEL
from repomind.sandbox.environment import ENV_REPOSITORY

pytestmark = pytest.mark.docker

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "0.1"

[project.optional-dependencies]
test = ["pytest", "tomli-w"]
"""

FILES = {
    "pyproject.toml": PYPROJECT,
    "src/calc/__init__.py": "def add(a, b):\n    return a + b\n",
    # tomli_w is a test dependency: it is only importable when the test extra was installed.
    "tests/test_calc.py": "import tomli_w\nfrom calc import add\n\n\ndef test_add():\n"
    "    assert add(2, 3) == 5\n    assert tomli_w.dumps({'a': 1}) == 'a = 1\\n'\n",
}


def _setup_events(client: Any, since: float, until: float) -> list[dict[str, Any]]:
    events = client.events(
        since=int(since),
        until=int(until) + 1,
        decode=True,
        # Only this session's containers: other processes may be setting up environments on the daemon.
        filters={
            "type": "container",
            "event": "create",
            "label": ["org.repomind.sandbox=setup", f"{OWNER_LABEL}={os.environ['REPOMIND_SANDBOX_OWNER']}"],
        },
    )
    return list(events)


def _env_images(client: Any, repo_name: str) -> list[Any]:
    return list(client.images.list(name=f"{ENV_REPOSITORY}/{repo_name}"))


def test_environment_built_once_and_reused(docker_client: Any, make_repo: Any) -> None:
    repo = make_repo(FILES)
    name = f"fixture-calc-{time.time_ns()}"
    box = DockerSandbox(docker_client)
    spec = EnvironmentSpec(name)
    try:
        t0 = time.time()
        first = box.prepare(repo, spec)
        assert not first.cached
        assert "-e" in first.plan and ".[test]" in first.plan
        assert len(_setup_events(docker_client, t0, time.time())) == 2  # the metadata, the install

        res = box.run(first, repo, ["python", "-m", "pytest", "-q", "tests"])
        assert res.outcome is Outcome.OK, res.output
        assert "1 passed" in res.stdout

        t1 = time.time()
        second = box.prepare(repo, spec)
        assert second.cached and second.image == first.image
        assert second.setup_seconds < first.setup_seconds / 10
        assert _setup_events(docker_client, t1, time.time()) == []  # no install ran the second time

        # A change to the source is not a change to the environment; a change to dependencies is.
        (repo / "src/calc/__init__.py").write_text("def add(a, b):\n    return a - b\n")
        assert box.prepare(repo, spec).key == first.key
        failing = box.run(first, repo, ["python", "-m", "pytest", "-q", "tests"])
        assert failing.outcome is Outcome.FAILED and "1 failed" in failing.stdout
        (repo / "pyproject.toml").write_text(PYPROJECT.replace('"tomli-w"]', '"tomli-w", "iniconfig"]'))
        changed = box.prepare(repo, spec)
        assert changed.key != first.key and not changed.cached
    finally:
        for image in _env_images(docker_client, name):
            docker_client.images.remove(image.id, force=True)


def test_setup_command_from_config_runs_offline(docker_client: Any, make_repo: Any) -> None:
    repo = make_repo({"requirements.txt": "tomli-w\n", "check.py": "import tomli_w\nprint('ok')\n"})
    name = f"fixture-custom-{time.time_ns()}"
    box = DockerSandbox(docker_client)
    try:
        env = box.prepare(repo, EnvironmentSpec(name, setup_command="pip install -r requirements.txt"))
        assert "Successfully installed" in env.log and "tomli-w" in env.log.lower().replace("_", "-")
        res = box.run(env, repo, ["python", "check.py"])
        assert res.stdout == "ok\n", res.output
    finally:
        for image in _env_images(docker_client, name):
            docker_client.images.remove(image.id, force=True)


def test_failing_setup_is_a_clear_error_and_leaves_nothing(docker_client: Any, make_repo: Any) -> None:
    repo = make_repo({"setup.py": "raise SystemExit('this project does not build')\n"})
    name = f"fixture-broken-{time.time_ns()}"
    box = DockerSandbox(docker_client)
    with pytest.raises(EnvironmentSetupError) as info:
        box.prepare(repo, EnvironmentSpec(name))
    # the project's own metadata is built first, inside the sandbox: that is where setup.py runs and fails
    assert "building the metadata of" in info.value.message
    assert "failed with exit status" in info.value.message
    assert "this project does not build" in info.value.output
    assert _env_images(docker_client, name) == []

    with pytest.raises(EnvironmentSetupError) as custom:
        box.prepare(repo, EnvironmentSpec(name, setup_command="echo preparing; exit 3"))
    assert "exit status 3" in custom.value.message and "preparing" in custom.value.output
    assert _env_images(docker_client, name) == []


def test_unknown_requirement_fails_before_any_container(docker_client: Any, make_repo: Any) -> None:
    repo = make_repo({"requirements.txt": "repomind-no-such-package-xyzzy==1.0\n"})
    t0 = time.time()
    with pytest.raises(EnvironmentSetupError) as info:
        DockerSandbox(docker_client).prepare(repo, EnvironmentSpec(f"fixture-missing-{time.time_ns()}"))
    assert "wheelhouse" in info.value.message
    assert "repomind-no-such-package-xyzzy" in info.value.output
    assert _setup_events(docker_client, t0, time.time()) == []


def test_missing_image_is_named(docker_client: Any, make_repo: Any) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    with pytest.raises(ImageNotFoundError, match="repomind-sandbox:does-not-exist"):
        DockerSandbox(docker_client).prepare(
            repo, EnvironmentSpec("x", image="repomind-sandbox:does-not-exist")
        )


@pytest.mark.slow
def test_environment_for_another_python_version(docker_client: Any, make_repo: Any) -> None:
    """Python 3.9 (Debian bullseye) from a 3.11 host: the wheelhouse is resolved for 3.9's markers."""
    from repomind.sandbox import images

    images.ensure_base_image(docker_client, "3.9", offline=True)  # a no-op when it exists
    repo = make_repo({**FILES, ".github/repomind.yml": "python: '3.9'\n"})
    name = f"fixture-calc39-{time.time_ns()}"
    box = DockerSandbox(docker_client)
    try:
        env = box.prepare(repo, EnvironmentSpec(name, python="3.9"))
        # pytest needs exceptiongroup and tomli below 3.11: a host-side resolution would miss them.
        res = box.run(env, repo, "python --version && python -m pytest -q tests && pip list")
        assert res.ok, res.output
        assert res.stdout.startswith("Python 3.9.") and "1 passed" in res.stdout
        assert "exceptiongroup" in res.stdout
    finally:
        for image in _env_images(docker_client, name):
            docker_client.images.remove(image.id, force=True)


def test_setup_py_project_is_on_sys_path_as_setup_py_develop_put_it(
    docker_client: Any, make_repo: Any
) -> None:
    """A flat-layout ``setup.py`` project: tools that search ``sys.path`` for the project's own files
    (astroid, so pylint's plugins) find them, as after ``setup.py develop``."""
    repo = make_repo(
        {
            "setup.py": "from setuptools import setup\n"
            "setup(name='calc', version='0.1', packages=['calc'])\n",
            "calc/__init__.py": "def add(a, b):\n    return a + b\n",
            "calc/plugins/__init__.py": "",
            "calc/plugins/extra.py": "X = 1\n",
        }
    )
    name = f"fixture-flat-{time.time_ns()}"
    box = DockerSandbox(docker_client)
    try:
        env = box.prepare(repo, EnvironmentSpec(name))
        assert "editable_mode=compat" in env.plan
        probe = (
            "import os, sys; os.chdir('/'); "
            "print([p for p in sys.path if p and os.path.isfile(os.path.join(p, 'calc/plugins/extra.py'))])"
        )
        res = box.run(env, repo, ["python", "-c", probe])
        assert res.ok, res.output
        assert res.stdout.strip() not in ("", "[]"), res.output  # the project root is a sys.path entry
    finally:
        for image in _env_images(docker_client, name):
            docker_client.images.remove(image.id, force=True)


@pytest.mark.docker
def test_the_image_keeps_what_the_setup_generated_but_not_the_copied_sources(
    docker_client: Any, make_repo: Any
) -> None:
    """pytest's setuptools-scm writes ``src/_pytest/_version.py`` at install time; the run's copy of the
    repository (from git) lacks it, so the image must keep it while the copied sources go."""
    repo = make_repo({"pkg/__init__.py": "", "pkg/mod.py": "X = 1\n"})
    setup = "echo 'version = \"1.0\"' > pkg/_version.py && mkdir -p build/x && echo o > build/x/ext.so"
    env = DockerSandbox(docker_client).prepare(
        repo, EnvironmentSpec(f"fixture-generated-{time.time_ns()}", setup_command=setup)
    )
    try:
        listing = docker_client.containers.run(
            env.image, ["bash", "-c", "cd /work && find . -type f | sort"], remove=True
        ).decode()
        assert listing.split() == ["./build/x/ext.so", "./pkg/_version.py"]
    finally:
        docker_client.images.remove(env.image, force=True)


#: A package of 2014: its setup.py imports it, and it needs an alias Python 3.10 removed.
LEGACY = {
    "setup.py": "from setuptools import setup\n\nimport legacy\n\n"
    "setup(name='legacy', version=legacy.__version__, packages=['legacy'], classifiers=[\n"
    "    'Programming Language :: Python :: 2.7',\n"
    "    'Programming Language :: Python :: 3.4',\n])\n",
    "legacy/__init__.py": "from collections import Mapping\n\n__version__ = '1.0'\n",
}


@pytest.mark.slow
def test_an_old_project_sets_up_on_the_python_its_metadata_declares(
    docker_client: Any, make_repo: Any
) -> None:
    """Nothing configured: the classifiers (up to 3.4) choose Python 3.9, where the project's setup.py
    runs; on the default 3.11 it cannot."""
    from repomind.sandbox import images

    images.ensure_base_image(docker_client, "3.9", offline=True)  # a no-op when it exists
    repo = make_repo(LEGACY)
    name = f"fixture-legacy-{time.time_ns()}"
    box = DockerSandbox(docker_client)
    try:
        env = box.prepare(repo, EnvironmentSpec(name))
        assert env.interpreter.startswith("Python 3.9 (its classifiers list up to 3.4")
        res = box.run(env, repo, ["python", "-c", "import sys, legacy; print(sys.version_info[:2])"])
        assert res.ok and res.stdout.strip() == "(3, 9)", res.output
        with pytest.raises(EnvironmentSetupError, match="metadata") as failed:
            box.prepare(repo, EnvironmentSpec(name, python="3.11"))  # the config wins, and fails
        assert "cannot import name 'Mapping' from 'collections'" in failed.value.output
    finally:
        for image in _env_images(docker_client, name):
            docker_client.images.remove(image.id, force=True)
