"""A host-side wheelhouse, so that environments install inside a container that cannot reach an index."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from repomind.sandbox.errors import EnvironmentSetupError

#: Always present: what pip's build isolation needs to build the repository and any sdist inside.
BUILD_TOOLS = ("setuptools>=64", "wheel")


def host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def download(
    requirements: Sequence[str],
    dest: Path,
    *,
    python: str,
    log: Callable[[str], None] = lambda _line: None,
    timeout_s: float = 1800.0,
) -> list[Path]:
    """``pip download`` the requirements (and their dependencies) for Python ``python`` into ``dest``.

    Nothing of the repository runs here: the requirements are names and versions read from its files.
    Where ``python`` is not the host's version only binary wheels can be chosen for it.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--dest",
        str(dest),
        "--prefer-binary",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
    ]
    if python != host_python():
        cmd += ["--python-version", python, "--implementation", "cp", "--only-binary=:all:"]
    cmd += [*BUILD_TOOLS, *requirements]
    log(f"$ pip download ({len(requirements)} requirements, Python {python})")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentSetupError(f"pip download timed out after {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        raise EnvironmentSetupError(
            f"could not fetch the repository's requirements into a wheelhouse (pip exit {proc.returncode})",
            output=(proc.stdout + proc.stderr)[-8000:],
        )
    return sorted(dest.iterdir())
