"""Repository environments: install dependencies once, cache the result as an image keyed by content."""

from __future__ import annotations

import contextlib
import re
import shlex
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repomind.sandbox import setup_plan, wheelhouse
from repomind.sandbox.client import LABEL, container_labels
from repomind.sandbox.errors import EnvironmentSetupError, ImageNotFoundError
from repomind.sandbox.images import (
    DEFAULT_PYTHON,
    SUITE_GLIBC,
    base_image_tag,
    find_image,
    require_base_image,
    suite_for,
)
from repomind.sandbox.limits import Limits
from repomind.sandbox.output import CappedBuffer
from repomind.sandbox.types import Environment, EnvironmentSpec
from repomind.sandbox.worktree import SANDBOX_GID, SANDBOX_UID, pack, pack_directory

ENV_REPOSITORY = "repomind-env"
KEY_LABEL = "org.repomind.env-key"
#: Bump when the way environments are built changes, so that old cached images are not reused.
RECIPE_VERSION = "1"
VENV = "/opt/venv"
_RUNTIME_CHANGES = (
    f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    f"ENV VIRTUAL_ENV={VENV}",
    "ENV PIP_NO_INDEX=1",
    "USER sandbox",
    "WORKDIR /work",
    'CMD ["bash"]',
)


def env_tag(repo_name: str, key: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", repo_name.lower()).strip("-.") or "repo"
    return f"{ENV_REPOSITORY}/{slug}:{key}"


def remove_environments(repo_name: str, client: Any = None) -> int:
    """Remove every cached environment image of ``repo_name`` (its installation or the repository was
    removed); the number removed. 0 when no Docker daemon answers."""
    import docker

    slug = env_tag(repo_name, "x").rsplit(":", 1)[0]
    try:
        client = client or docker.from_env()
        removed = 0
        for image in client.images.list(name=slug):
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(image.id, force=True)
                removed += 1
        return removed
    except docker.errors.DockerException:
        return 0


def build(
    client: Any,
    work_tree: Path,
    spec: EnvironmentSpec,
    *,
    limits: Limits,
    setup_timeout_s: float = 1800.0,
    log: Callable[[str], None] = lambda _line: None,
) -> Environment:
    """Return the cached environment for this repository and dependency state, or build and cache it."""
    start = time.monotonic()
    plan = setup_plan.detect(work_tree, spec.setup_command, spec.requirement_files)
    if spec.image:
        base_tag, base = spec.image, find_image(client, spec.image)
        if base is None:
            raise ImageNotFoundError(f"the configured image {spec.image} does not exist")
    else:
        base_tag = base_image_tag(spec.python, spec.compiler)
        base = require_base_image(client, spec.python, spec.compiler)
    key = setup_plan.fingerprint(
        work_tree,
        plan,
        spec.repo_name,
        base.id,
        RECIPE_VERSION,
        str(spec.network),
        *(("keep-work-tree",) if spec.keep_work_tree else ()),
        *spec.requirements,
        *((f"before {spec.resolve_before}",) if spec.resolve_before else ()),
    )
    tag = env_tag(spec.repo_name, key)
    if find_image(client, tag) is not None:
        log(f"environment {tag} is cached")
        return Environment(tag, key, cached=True, setup_seconds=time.monotonic() - start, plan=plan.pip_args)

    log(f"setting up {spec.repo_name}: {plan.describe()}")
    with tempfile.TemporaryDirectory(prefix="repomind-wheels-") as tmp:
        wheels = Path(tmp, "wheelhouse")
        python = spec.python or DEFAULT_PYTHON
        glibc = SUITE_GLIBC[suite_for(python)] if not spec.image or spec.python else SUITE_GLIBC["bookworm"]
        # Resolved as separate sets, as pip installs them: the project with its dependencies, its build
        # system (an isolated build), and any requirements the spec adds (installed before the project).
        build_set = set(plan.build_requirements)
        dated = [[r for r in plan.requirements if r not in build_set], list(plan.build_requirements)]
        for group in dated:
            if group:
                wheelhouse.download(
                    group, wheels, python=python, glibc=glibc, log=log, exclude_newer=spec.resolve_before
                )
        if spec.requirements:  # explicit pins: never bounded by the date
            wheelhouse.download(spec.requirements, wheels, python=python, glibc=glibc, log=log)
        output = _install(client, base_tag, work_tree, wheels, plan, spec, tag, key, limits, setup_timeout_s)
    log(f"environment {tag} built in {time.monotonic() - start:.1f} s")
    return Environment(
        tag, key, cached=False, setup_seconds=time.monotonic() - start, plan=plan.pip_args, log=output
    )


def _script(plan: setup_plan.SetupPlan, network: bool, keep_work_tree: bool = False) -> str:
    install = plan.custom_command or "pip install " + shlex.join(plan.pip_args)
    # The work copy and the wheelhouse are not part of the environment (each run copies its own tree),
    # unless the work copy's build products are wanted: then it stays, owned by the sandbox user.
    keep = f"chown -R {SANDBOX_UID}:{SANDBOX_GID} /work && cd / && rm -rf /wheelhouse /root/.cache"
    drop = "cd / && find /work -mindepth 1 -delete && rm -rf /wheelhouse /root/.cache"
    return "\n".join(
        [
            "set -eu",
            "export PIP_FIND_LINKS=/wheelhouse PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off",
            "" if network else "export PIP_NO_INDEX=1",
            f"python3 -m venv {VENV}",
            f". {VENV}/bin/activate",
            "python -m pip install --quiet --no-index --upgrade pip",
            "cd /work",
            install,
            keep if keep_work_tree else drop,
        ]
    )


def _install(
    client: Any,
    base_tag: str,
    work_tree: Path,
    wheels: Path,
    plan: setup_plan.SetupPlan,
    spec: EnvironmentSpec,
    tag: str,
    key: str,
    limits: Limits,
    timeout_s: float,
) -> str:
    import docker
    import requests

    container = client.containers.create(
        base_tag,
        ["bash", "-c", _script(plan, spec.network, spec.keep_work_tree)],
        user="0",
        working_dir="/work",
        network_mode="bridge" if spec.network else "none",
        labels=container_labels("setup"),
        mem_limit=limits.memory_bytes,
        memswap_limit=limits.memory_bytes,
        pids_limit=max(limits.pids, 1024),
        environment={"HOME": "/root"},
    )
    try:
        with pack(work_tree) as tree:
            container.put_archive("/work", tree)
        with pack_directory(wheels, arcname="wheelhouse") as wh:
            container.put_archive("/", wh)
        container.start()
        try:
            status = container.wait(timeout=timeout_s)["StatusCode"]
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            container.kill()
            raise EnvironmentSetupError(
                f"setting up {spec.repo_name} timed out after {timeout_s:.0f} s", output=_logs(container)
            ) from None
        output = _logs(container)
        if status != 0:
            raise EnvironmentSetupError(
                f"setting up {spec.repo_name} failed with exit status {status} while running "
                f"`{plan.describe()}`",
                output=output,
            )
        changes = [*_RUNTIME_CHANGES, f"LABEL {LABEL}=env", f"LABEL {KEY_LABEL}={key}"]
        repository, _, version = tag.partition(":")
        container.commit(repository=repository, tag=version, changes=changes)
        return output
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


def _logs(container: Any) -> str:
    buf = CappedBuffer(64 * 1024)
    buf.write(container.logs(stdout=True, stderr=True))
    return buf.text()
