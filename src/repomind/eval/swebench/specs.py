"""The environment of a repository at a version: ``swebench``'s specifications, mapped to the sandbox.

``swebench==4.1.0`` ships ``MAP_REPO_VERSION_TO_SPECS`` (Python version, conda packages, pip pins,
pre-install and install commands, test command). They assume conda and network; here the environment is
a Debian image with that Python, a venv, and a host-side wheelhouse:

- ``python``: the Debian release that ships it (3.9 bullseye, 3.11 bookworm, 3.13 trixie). Any other
  version is *unavailable* (never counted as resolved or unresolved), unless ``python_fallback`` allows
  the nearest newer available one, which the verdict then records.
- ``packages`` (conda names, or ``requirements.txt``) and ``pip_packages``: pip installs of the same
  names from the wheelhouse, one step after the other in the official harness's order (``packages``,
  then ``pip_packages``), each step's requirements resolved on its own: a later step's pin of a package
  wins, as pip installing them in order makes it win (flask 2.3's requirements file pins
  ``markupsafe==2.1.2``, its ``pip_packages`` ``MarkupSafe==2.1.1``). ``environment.yml`` (a conda
  environment) is unavailable. A bare ``pytest`` becomes ``pytest<8``, the series SWE-bench's logs were
  validated with.
- ``pre_install``: ``sed`` edits of the repository's files are applied to the work tree before the
  environment is built (as the official harness commits them into its image); anything else (apt-get)
  cannot run offline and makes the environment unavailable.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repomind.eval.swebench.causes import NETWORK, OTHER, PYTHON
from repomind.eval.swebench.errors import EvalInputError
from repomind.eval.swebench.tox_runner import replace_tox

#: Repositories whose tests need what the sandbox withholds while tests run.
OFFLINE_BLOCKERS = {
    "psf/requests": "its tests call http://httpbin.org, and the sandbox has no network while tests run",
}
#: Repositories with C extensions: their environments build on the compiler variant of the base image.
NEEDS_COMPILER = frozenset({"astropy/astropy"})
#: Unpinned names in the specifications, pinned as they were when SWE-bench's logs were validated (2023):
#: pytest 8 (2024) dropped nose-style ``setup``/``teardown`` methods that PASS_TO_PASS tests rely on.
UNPINNED = {"pytest": "pytest<8"}
PIP = "pip<24"
#: Where the harness writes the requirements that a ``packages: requirements.txt`` spec installs.
REQUIREMENTS_FILE = ".swebench-requirements.txt"
#: In :attr:`EvalSpec.steps`, the place of the repository's requirements file (read when the instance is
#: evaluated: :meth:`EvalSpec.requirement_steps`).
FILE_STEP = ("-r", REQUIREMENTS_FILE)
#: Looks up the raw specification of (repo, version); None when there is none.
SpecLookup = Callable[[str, str], Mapping[str, Any] | None]


def swebench_specs(repo: str, version: str) -> Mapping[str, Any] | None:
    """The ``swebench`` package's own specification (the ``eval`` extra installs it)."""
    from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS

    spec: Mapping[str, Any] | None = MAP_REPO_VERSION_TO_SPECS.get(repo, {}).get(version)
    return spec


def overlay(path: Path, fallback: SpecLookup = swebench_specs) -> SpecLookup:
    """Specifications from a JSON file (``{repo: {version: spec}}``) in front of ``fallback``.

    A spec may name ``log_parser``: the repository whose ``swebench`` parser reads its test output
    (e.g. ``pytest-dev/pytest`` for any plain ``pytest -rA`` run).
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EvalInputError(f"--specs {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise EvalInputError(f"--specs {path}: expected {{repo: {{version: spec}}}}")

    def lookup(repo: str, version: str) -> Mapping[str, Any] | None:
        found = data.get(repo, {}).get(version)
        return found if isinstance(found, dict) else fallback(repo, version)

    return lookup


@dataclass(frozen=True)
class EvalSpec:
    """What the harness needs: where to build, what to install, how to test."""

    repo: str
    version: str
    python: str
    requested_python: str
    host_edits: tuple[str, ...]
    requirements: tuple[str, ...]  # every step's, in order (the requirements file's aside)
    setup_command: str
    test_cmd: str
    eval_commands: tuple[str, ...] = ()
    requirements_file: bool = False  # install swebench's requirements file of the repository
    compiler: bool = False
    parser_repo: str = ""  # whose swebench log parser reads the test output (default: the repository's)
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The requirements of each install step, in the order the setup command runs them (``FILE_STEP``
    #: where the repository's requirements file is installed).
    steps: tuple[tuple[str, ...], ...] = ()

    def requirement_steps(self, file_requirements: Sequence[str] = ()) -> tuple[tuple[str, ...], ...]:
        """Each step's requirements, to resolve one step at a time, with the requirements file's
        (``file_requirements``) at its place; steps without requirements left out."""
        steps = self.steps or ((*self.requirements, *file_requirements),)  # one step when none are given
        filled = (tuple(file_requirements) if step == FILE_STEP else step for step in steps)
        return tuple(step for step in filled if step)


@dataclass(frozen=True)
class Unavailable:
    """The environment cannot be had here, why, and the kind of cause (``PYTHON``, ``NETWORK``, ...)."""

    reason: str
    cause: str = OTHER


def _python_for(wanted: str, available: tuple[str, ...], fallback: bool) -> str | Unavailable:
    if wanted in available:
        return wanted

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    newer = sorted((v for v in available if key(v) > key(wanted)), key=key)
    if fallback and newer:
        return newer[0]
    have = ", ".join(available)
    hint = f" (--python-fallback would use {newer[0]})" if newer else ""
    reason = f"needs Python {wanted}, which no sandbox image here provides (have {have}){hint}"
    return Unavailable(reason, PYTHON)


def resolve(
    repo: str,
    version: str,
    raw: Mapping[str, Any] | None,
    *,
    available_pythons: tuple[str, ...],
    python_fallback: bool = False,
) -> EvalSpec | Unavailable:
    """Map one raw specification to an :class:`EvalSpec`, or say why it is unavailable here."""
    if raw is None:
        return Unavailable(f"swebench has no environment specification for {repo} {version}")
    if repo in OFFLINE_BLOCKERS:
        return Unavailable(OFFLINE_BLOCKERS[repo], NETWORK)
    wanted = str(raw.get("python", "3.9"))
    python = _python_for(wanted, available_pythons, python_fallback)
    if isinstance(python, Unavailable):
        return python
    edits: list[str] = []
    for command in raw.get("pre_install", []) or []:
        if not str(command).lstrip().startswith("sed "):
            reason = f"its pre-install step needs the network or root on the host: {command}"
            return Unavailable(reason)
        edits.append(str(command))
    # The pip of SWE-bench's environments (2023): later pips dropped the ``setup.py develop`` fallback that
    # editable installs of projects built with setuptools < 64 need (astroid 2.13 pins setuptools~=62.6).
    # Then the steps in the official harness's order: ``packages`` (a conda environment created with them,
    # or the requirements file installed into it), then ``pip_packages``.
    steps: list[tuple[str, ...]] = [(PIP,)]
    packages = str(raw.get("packages", "") or "").strip()
    if packages == "requirements.txt":
        # As swebench: the repository's requirements file at the environment commit, includes inlined
        # (written into the work tree by the harness, see ``requirements.write_requirements``).
        steps.append(FILE_STEP)
    elif packages == "environment.yml":
        return Unavailable("its environment is a conda environment.yml, which has no pip mapping here")
    elif packages:
        steps.append(tuple(UNPINNED.get(n, n) for n in packages.split()))
    pins = tuple(UNPINNED.get(str(p), str(p)) for p in raw.get("pip_packages", []) or [])
    if pins:
        steps.append(pins)
    commands = [
        f"python -m pip install -r {REQUIREMENTS_FILE}"
        if step == FILE_STEP
        else "python -m pip install " + shlex.join(step)
        for step in steps
    ]
    requirements = [r for step in steps if step != FILE_STEP for r in step]
    install = str(raw.get("install", "") or "")
    if install:
        commands.append(install)
    test_cmd = replace_tox(str(raw.get("test_cmd", "") or ""))
    if not test_cmd:
        return Unavailable(f"swebench gives no test command for {repo} {version}")
    notes = () if python == wanted else (f"Python {python} instead of {wanted} (--python-fallback)",)
    # The sandbox keys its cache by the dependency files, this command and the base image: instances of one
    # repository whose versions share a specification and dependency files share one environment.
    setup = "\n".join([f"# swebench {repo} python {python}", *commands])
    return EvalSpec(
        repo=repo,
        version=version,
        python=python,
        requested_python=wanted,
        host_edits=tuple(edits),
        requirements=tuple(dict.fromkeys(requirements)),
        setup_command=setup,
        test_cmd=test_cmd,
        eval_commands=tuple(str(c) for c in raw.get("eval_commands", []) or []),
        requirements_file=packages == "requirements.txt",
        parser_repo=str(raw.get("log_parser", repo)),
        compiler=repo in NEEDS_COMPILER or bool(raw.get("compiler")),
        notes=notes,
        steps=tuple(steps),
    )
