"""A host-side wheelhouse, so that environments install inside a container that cannot reach an index."""

from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from repomind.sandbox.errors import EnvironmentSetupError

#: Always present: a current pip (old Debian pips cannot install a pyproject-only project in editable mode)
#: and what pip's build isolation needs to build the repository and any sdist inside.
BUILD_TOOLS = ("pip", "setuptools>=64", "wheel")


def host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def manylinux_platforms(glibc: tuple[int, int], machine: str | None = None) -> list[str]:
    """The manylinux tags a system with this glibc can install, newest first."""
    arch = machine or platform.machine()
    tags = [f"manylinux_{glibc[0]}_{minor}_{arch}" for minor in range(glibc[1], 4, -1)]
    return [*tags, f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]


def _run(cmd: list[str], what: str, timeout_s: float) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentSetupError(f"{what} timed out after {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        raise EnvironmentSetupError(
            f"could not fetch the repository's requirements into a wheelhouse "
            f"({what}, exit {proc.returncode})",
            output=(proc.stdout + proc.stderr)[-8000:],
        )
    return proc.stdout


def _pin_for(
    requirements: Sequence[str],
    python: str,
    glibc: tuple[int, int],
    timeout_s: float,
    exclude_newer: str | None = None,
) -> list[str]:
    """Resolve for another Python with uv, which evaluates markers for the target, not the host."""
    import uv

    with tempfile.NamedTemporaryFile("w", suffix=".in") as spec:
        spec.write("\n".join(requirements) + "\n")
        spec.flush()
        target = f"{platform.machine()}-manylinux_{glibc[0]}_{glibc[1]}"
        out = _run(
            [
                uv.find_uv_bin(),
                "pip",
                "compile",
                spec.name,
                "--python-version",
                python,
                "--python-platform",
                target,
                "--no-header",
                "--no-annotate",
                "--quiet",
                *(("--exclude-newer", exclude_newer) if exclude_newer else ()),
            ],
            f"resolving for Python {python}",
            timeout_s,
        )
    return [line.strip() for line in out.splitlines() if line.strip() and not line.startswith("#")]


def download(
    requirements: Sequence[str],
    dest: Path,
    *,
    python: str,
    glibc: tuple[int, int] = (2, 36),
    log: Callable[[str], None] = lambda _line: None,
    timeout_s: float = 1800.0,
    exclude_newer: str | None = None,
) -> list[Path]:
    """``pip download`` the requirements (and their dependencies) for Python ``python`` into ``dest``.

    Nothing of the repository runs here: the requirements are names and versions read from its files.
    For another Python than the host's, the set is first resolved for that Python (markers included) and
    then downloaded pinned, for the target's glibc. ``exclude_newer`` (an ISO date) resolves as of then.
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
    # The build tools are resolved on their own: a project may pin an older setuptools for its build
    # (``requires = ["setuptools~=62.6"]``), which pip's isolated build then takes from the wheelhouse.
    groups = [list(BUILD_TOOLS), list(requirements)]
    if python != host_python() or exclude_newer:
        # The build tools are current whatever the date: pip's isolated builds need a setuptools >= 64.
        dates = [None, exclude_newer]
        groups = [_pin_for(g, python, glibc, timeout_s, d) for g, d in zip(groups, dates, strict=True) if g]
        cmd += ["--no-deps", "--python-version", python, "--implementation", "cp"]
        cmd += [arg for tag in manylinux_platforms(glibc) for arg in ("--platform", tag)]
    for wanted in groups:
        if wanted:
            log(f"$ pip download ({len(wanted)} requirements, Python {python})")
            _run([*cmd, *wanted], "pip download", timeout_s)
    return sorted(dest.iterdir())
