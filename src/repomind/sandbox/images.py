"""The sandbox base image: from the Dockerfile where a registry answers, from debootstrap offline."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from repomind.sandbox.client import LABEL, container_labels
from repomind.sandbox.errors import ImageBuildError, ImageNotFoundError
from repomind.sandbox.hostenv import clean_env

#: Python version → the Debian release whose python3 it is.
PYTHON_SUITES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
#: glibc of each Debian release: which manylinux wheels its Python can install.
SUITE_GLIBC = {"bullseye": (2, 31), "bookworm": (2, 36), "trixie": (2, 41)}
DEFAULT_PYTHON = "3.11"
BASE_REPOSITORY = "repomind-sandbox"
RECIPE_LABEL = "org.repomind.recipe"
PACKAGES = ("python3", "python3-venv", "python3-pip", "git", "ca-certificates")
#: The compiler variant (``py3.9-build``): for projects with C extensions (astropy), built the same ways.
COMPILER_PACKAGES = ("build-essential", "python3-dev")
COMPILER_SUFFIX = "-build"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "ENV PYTHONDONTWRITEBYTECODE=1",
    "WORKDIR /work",
    "USER sandbox",
)

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildReport:
    tag: str
    built: bool
    method: str  # "cached", "dockerfile" or "debootstrap"
    seconds: float


def suite_for(python: str | None) -> str:
    version = python or DEFAULT_PYTHON
    try:
        return PYTHON_SUITES[version]
    except KeyError:
        known = ", ".join(sorted(PYTHON_SUITES))
        raise ImageBuildError(
            f"no sandbox image for Python {version}: available versions are {known}"
        ) from None


def base_image_tag(python: str | None = None, compiler: bool = False) -> str:
    suite_for(python)
    return f"{BASE_REPOSITORY}:py{python or DEFAULT_PYTHON}{COMPILER_SUFFIX if compiler else ''}"


def packages(compiler: bool = False) -> tuple[str, ...]:
    return (*PACKAGES, *COMPILER_PACKAGES) if compiler else PACKAGES


def dockerfile_text() -> str:
    return resources.files("repomind.sandbox").joinpath("Dockerfile").read_text()


def recipe_hash(python: str | None = None, compiler: bool = False) -> str:
    """Identifies what the image is built from; an existing image with the same hash is reused."""
    material = "\n".join([dockerfile_text(), suite_for(python), *packages(compiler), *_CHANGES])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def find_image(client: Any, tag: str) -> Any | None:
    import docker

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def require_base_image(client: Any, python: str | None = None, compiler: bool = False) -> Any:
    tag = base_image_tag(python, compiler)
    image = find_image(client, tag)
    if image is None:
        options = (f" --python {python}" if python else "") + (" --compiler" if compiler else "")
        raise ImageNotFoundError(
            f"the sandbox base image {tag} does not exist: run `repomind sandbox build{options}` "
            f"(or `repomind sandbox build{options} --offline` where no registry is reachable)"
        )
    return image


def ensure_base_image(
    client: Any,
    python: str | None = None,
    *,
    offline: bool | None = None,
    force: bool = False,
    mirror: str = DEFAULT_MIRROR,
    log: Log = lambda _line: None,
    compiler: bool = False,
) -> BuildReport:
    """Build the base image unless one from the same recipe exists.

    ``offline=None`` tries the Dockerfile first and falls back to debootstrap when the registry fails.
    """
    tag, recipe, start = base_image_tag(python, compiler), recipe_hash(python, compiler), time.monotonic()
    extra = COMPILER_PACKAGES if compiler else ()
    existing = find_image(client, tag)
    if existing is not None and not force and existing.labels.get(RECIPE_LABEL) == recipe:
        log(f"{tag} is up to date")
        return BuildReport(tag, built=False, method="cached", seconds=time.monotonic() - start)
    labels = {LABEL: "base", RECIPE_LABEL: recipe}
    method = "debootstrap"
    if not offline:
        try:
            _build_from_dockerfile(client, tag, suite_for(python), labels, log, extra)
            method = "dockerfile"
        except ImageBuildError as exc:
            if offline is False:
                raise
            log(f"building from the Dockerfile failed ({exc.message}); building offline instead")
            _build_offline(client, tag, suite_for(python), labels, mirror, log, extra)
    else:
        _build_offline(client, tag, suite_for(python), labels, mirror, log, extra)
    _check_image(client, tag, python or DEFAULT_PYTHON)
    return BuildReport(tag, built=True, method=method, seconds=time.monotonic() - start)


def _build_from_dockerfile(
    client: Any, tag: str, suite: str, labels: dict[str, str], log: Log, extra: tuple[str, ...] = ()
) -> None:
    import docker

    with tempfile.TemporaryDirectory(prefix="repomind-ctx-") as ctx:
        text = dockerfile_text()
        if extra:  # the variant: the same recipe with the extra packages installed beside python3
            text = text.replace(" ca-certificates ", f" ca-certificates {' '.join(extra)} ", 1)
        Path(ctx, "Dockerfile").write_text(text)
        try:
            for chunk in client.api.build(
                path=ctx,
                tag=tag,
                buildargs={"DEBIAN_SUITE": suite},
                labels=labels,
                rm=True,
                forcerm=True,
                decode=True,
            ):
                if "error" in chunk:
                    raise ImageBuildError(f"docker build of {tag} failed: {chunk['error'].strip()}")
                if chunk.get("stream", "").strip():
                    log(chunk["stream"].rstrip())
        except docker.errors.APIError as exc:
            raise ImageBuildError(f"docker build of {tag} failed: {exc.explanation or exc}") from exc


def _build_offline(
    client: Any,
    tag: str,
    suite: str,
    labels: dict[str, str],
    mirror: str,
    log: Log,
    extra: tuple[str, ...] = (),
) -> None:
    """debootstrap a minimal Debian with python3, venv and git, add the sandbox user, ``docker import``."""
    import docker
    import requests

    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageBuildError("the offline build needs debootstrap: `apt-get install -y debootstrap`")
    if os.geteuid() != 0:
        raise ImageBuildError("the offline build runs debootstrap, which needs root")
    with tempfile.TemporaryDirectory(prefix="repomind-rootfs-") as tmp:
        rootfs = Path(tmp, "rootfs")
        cmd = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join((*PACKAGES, *extra))}",
            suite,
            str(rootfs),
            mirror,
        ]
        log(f"$ {' '.join(cmd)}")
        _run_logged(cmd, log, what=f"debootstrap of Debian {suite}")
        _add_sandbox_user(rootfs)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        archive = Path(tmp, "rootfs.tar")
        _run_logged(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."], log, what="tar")
        changes = [*_CHANGES, *(f"LABEL {k}={v}" for k, v in labels.items())]
        repository, _, version = tag.partition(":")
        log(f"importing {tag}")
        try:
            client.api.import_image_from_file(
                str(archive), repository=repository, tag=version, changes=changes
            )
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise ImageBuildError(f"docker import of {tag} failed: {exc}") from exc


def _add_sandbox_user(rootfs: Path) -> None:
    with (rootfs / "etc/passwd").open("a") as f:
        f.write("sandbox:x:1000:1000:Repomind sandbox:/home/sandbox:/bin/bash\n")
    with (rootfs / "etc/group").open("a") as f:
        f.write("sandbox:x:1000:\n")
    for d in ("work", "home/sandbox"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
        os.chown(rootfs / d, 1000, 1000)


def _run_logged(cmd: list[str], log: Log, *, what: str) -> None:
    tail: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env()
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log(line.rstrip())
            tail = [*tail[-40:], line]
    if proc.returncode != 0:
        raise ImageBuildError(f"{what} failed with exit status {proc.returncode}", output="".join(tail))


def _check_image(client: Any, tag: str, python: str) -> None:
    """The image must run python3 of the expected version as the non-root user; a bad one is removed."""
    import docker

    try:
        out = client.containers.run(
            tag,
            ["python3", "-c", "import os,sys,venv; print('%d.%d' % sys.version_info[:2], os.getuid())"],
            remove=True,
            network_mode="none",
            labels=container_labels("check"),
        )
    except docker.errors.DockerException as exc:
        client.images.remove(tag, force=True)
        raise ImageBuildError(f"the new image {tag} does not run python3: {exc}") from exc
    version, uid = out.decode().split()
    if version != python or uid == "0":
        client.images.remove(tag, force=True)
        raise ImageBuildError(f"{tag} has Python {version} running as uid {uid}; expected {python}, non-root")
