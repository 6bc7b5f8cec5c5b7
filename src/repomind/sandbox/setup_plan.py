"""Deciding how to install a repository's Python environment, without running any of its code.

The repository's own files are read as data (TOML, INI, a literal-only look at ``setup.py``): nothing of
the repository executes on the host. Its build backend runs later, inside the sandbox.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEST_EXTRAS = ("test", "tests", "testing")
FALLBACK_EXTRAS = ("dev",)
REQUIREMENT_FILES = (
    "requirements.txt",
    "requirements-dev.txt",
    "requirements_dev.txt",
    "requirements-test.txt",
    "requirements_test.txt",
    "requirements-tests.txt",
    "test-requirements.txt",
    "test_requirements.txt",
    "dev-requirements.txt",
    "requirements/test.txt",
    "requirements/tests.txt",
    "requirements/dev.txt",
)
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")
#: For a project built by ``setup.py`` alone: an editable install that puts the project root on
#: ``sys.path``, as ``setup.py develop`` did (see :func:`setup_py_only`).
COMPAT_EDITABLE = ("--config-settings", "editable_mode=compat")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class SetupPlan:
    """What to install: ``pip install`` arguments, the requirements to fetch into the wheelhouse, and
    the files whose contents decide the environment (hashed into the cache key)."""

    pip_args: tuple[str, ...]
    requirements: tuple[str, ...]
    dependency_files: tuple[str, ...]
    custom_command: str | None = None
    #: The build system's requirements (also in ``requirements``): pip's isolated build resolves them on
    #: their own, so the wheelhouse fetches them as their own set.
    build_requirements: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.custom_command:
            return self.custom_command
        return "pip install " + " ".join(self.pip_args)


def detect(
    work_tree: Path, setup_command: str | None = None, requirement_files: tuple[str, ...] | None = None
) -> SetupPlan:
    """The install plan for ``work_tree``: the project with its test extras, its requirement files, pytest.

    ``requirement_files`` narrows which requirement files are read (default: the usual names).
    """
    wanted = REQUIREMENT_FILES if requirement_files is None else requirement_files
    dep_files = [f for f in (*PROJECT_FILES, *wanted) if (work_tree / f).is_file()]
    pip_args: list[str] = []
    requirements: list[str] = []
    build: list[str] = []
    if any(f in dep_files for f in PROJECT_FILES):
        deps, extras, build = _project_metadata(work_tree)
        chosen = [e for e in TEST_EXTRAS if e in extras] or [e for e in FALLBACK_EXTRAS if e in extras]
        pip_args += ["-e", "." + (f"[{','.join(chosen)}]" if chosen else "")]
        if setup_py_only(work_tree):
            pip_args += COMPAT_EDITABLE
        requirements += deps + [r for e in chosen for r in extras[e]] + build
    for name in wanted:
        if name in dep_files:
            pip_args += ["-r", name]
            requirements += _read_requirements(work_tree / name)
    if not any(_name_of(r) == "pytest" for r in requirements):
        pip_args.append("pytest")
        requirements.append("pytest")
    return SetupPlan(
        pip_args=tuple(pip_args),
        requirements=tuple(dict.fromkeys(requirements)),
        dependency_files=tuple(dep_files),
        custom_command=setup_command,
        build_requirements=tuple(dict.fromkeys(build)),
    )


def setup_py_only(work_tree: Path) -> bool:
    """A project built by ``setup.py`` alone (no ``[build-system]`` in a ``pyproject.toml``).

    ``pip install -e`` used to run ``setup.py develop`` for such a project, which puts the project root
    on ``sys.path``. Today's pip builds a PEP 660 wheel instead, and for a flat layout setuptools maps
    the packages with an import hook and no path entry: tools that look a module up on ``sys.path``
    (astroid, so pylint's plugin loading) then cannot find the project's own files. setuptools'
    ``editable_mode=compat`` puts the project root on ``sys.path`` again
    (``SETUPTOOLS_ENABLE_FEATURES=legacy-editable`` did, before setuptools 80 removed it).
    """
    if not (work_tree / "setup.py").is_file():
        return False
    if not (work_tree / "pyproject.toml").is_file():
        return True
    data = _pyproject(work_tree)
    return data is not None and "build-system" not in data  # unreadable: pip fails on it, add nothing


def _pyproject(work_tree: Path) -> dict[str, Any] | None:
    """``pyproject.toml``, parsed; None when there is none or it is not valid TOML (pip refuses it too)."""
    path = work_tree / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def fingerprint(work_tree: Path, plan: SetupPlan, *parts: str) -> str:
    """A hash of the dependency files' contents, the setup command, and any other ``parts``."""
    digest = hashlib.sha256()
    for name in plan.dependency_files:
        digest.update(name.encode() + b"\0" + (work_tree / name).read_bytes() + b"\0")
    digest.update((plan.custom_command or "").encode() + b"\0")
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _name_of(requirement: str) -> str:
    match = _REQ_NAME.match(requirement)
    return match.group(1).lower().replace("_", "-") if match else ""


def _read_requirements(path: Path) -> list[str]:
    """Plain requirement lines; options, includes and local paths are left to pip inside the sandbox."""
    out = []
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", ".", "/")) or "://" in line:
            continue
        out.append(line)
    return out


def _project_metadata(work_tree: Path) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(dependencies, extras, build requirements) read statically from pyproject, setup.cfg, setup.py."""
    deps: list[str] = []
    extras: dict[str, list[str]] = {}
    build = list(DEFAULT_BUILD_REQUIRES)
    data = _pyproject(work_tree)
    if data is not None:
        build = list(data.get("build-system", {}).get("requires", build))
        project = data.get("project", {})
        deps += list(project.get("dependencies", []))
        extras.update({k: list(v) for k, v in project.get("optional-dependencies", {}).items()})
    cfg = work_tree / "setup.cfg"
    if cfg.is_file():
        parser = configparser.ConfigParser()
        try:
            parser.read_string(cfg.read_text(errors="replace"))
        except configparser.Error:
            parser = configparser.ConfigParser()
        deps += _lines(parser.get("options", "install_requires", fallback=""))
        if parser.has_section("options.extras_require"):
            for key, text in parser.items("options.extras_require"):
                extras.setdefault(key, []).extend(_lines(text))
    setup_py = work_tree / "setup.py"
    if setup_py.is_file():
        literal_deps, literal_extras = _setup_py_literals(setup_py)
        deps += literal_deps
        for key, value in literal_extras.items():
            extras.setdefault(key, []).extend(value)
    return deps, extras, build


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]


def _setup_py_literals(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """``install_requires`` and ``extras_require`` where ``setup.py`` spells them as literals."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return [], {}
    deps: list[str] = []
    extras: dict[str, list[str]] = {}
    # Module-level ``NAME = <literal>`` assignments, for ``setup(install_requires=NAME)``.
    names: dict[str, ast.expr] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            names[stmt.targets[0].id] = stmt.value
    for node in ast.walk(tree):
        if not isinstance(node, ast.keyword) or node.arg not in ("install_requires", "extras_require"):
            continue
        expr = names.get(node.value.id, node.value) if isinstance(node.value, ast.Name) else node.value
        try:
            value = ast.literal_eval(expr)
        except (ValueError, SyntaxError):
            continue
        if node.arg == "install_requires" and isinstance(value, list | tuple):
            deps += [str(v) for v in value]
        elif node.arg == "extras_require" and isinstance(value, dict):
            for key, reqs in value.items():
                extras[str(key)] = [reqs] if isinstance(reqs, str) else [str(r) for r in reqs]
    return deps, extras
