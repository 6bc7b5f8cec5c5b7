"""Deciding how to install a repository's Python environment, without running any of its code.

The repository's own files are read as data (TOML, INI, a literal-only look at ``setup.py``), through
:mod:`repomind.sandbox.repofs`, and every requirement found is checked as PEP 508 by
:mod:`repomind.sandbox.requirements`: nothing of the repository executes on the host. Its build backend
runs inside the sandbox, which reports the project's metadata (:mod:`repomind.sandbox.metadata`); the
plan made with that metadata replaces the static guess.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from repomind.sandbox import repofs
from repomind.sandbox.requirements import applicable, check, lint_includes, read_file, where


@dataclass(frozen=True)
class ProjectMetadata:
    """What the project's own build backend said about it, inside the sandbox (untrusted, checked)."""

    name: str
    requires_dist: tuple[str, ...]
    provides_extra: tuple[str, ...]


TEST_EXTRAS = ("test", "tests", "testing")
FALLBACK_EXTRAS = ("dev",)
TOX_FILE = "tox.ini"
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
    #: The project's extras installed (test extras, tox's, those a requirement file asks for).
    extras: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.custom_command:
            return self.custom_command
        return "pip install " + " ".join(self.pip_args)


def has_lint_includes(work_tree: Path, requirement_files: tuple[str, ...] | None = None) -> bool:
    """Whether a requirement file the plan reads includes linters' files (a fallback exists)."""
    wanted = REQUIREMENT_FILES if requirement_files is None else requirement_files
    return any(repofs.is_regular_file(work_tree, f) and lint_includes(work_tree, f) for f in wanted)


def has_project(work_tree: Path) -> bool:
    """Whether there is a project to install (``pyproject.toml``, ``setup.py`` or ``setup.cfg``)."""
    return any(repofs.is_regular_file(work_tree, f) for f in PROJECT_FILES)


def detect(
    work_tree: Path,
    setup_command: str | None = None,
    requirement_files: tuple[str, ...] | None = None,
    *,
    metadata: ProjectMetadata | None = None,
    python: str = "3.11",
    skip_lint: bool = False,
) -> SetupPlan:
    """The install plan for ``work_tree``: the project with its test extras, its requirement files, pytest.

    ``skip_lint``: a requirement file that includes linters' files (:data:`requirements.LINT_ONLY`) is
    installed as its own requirements without them (the fallback when the environment with them
    cannot be set up: a linter's pin may exclude the project itself).

    ``requirement_files`` narrows which requirement files are read (default: the usual names).
    ``metadata`` (what the project's build backend reported inside the sandbox) replaces the static
    reading of its dependencies; its markers are evaluated for Python ``python`` on Linux. Every
    requirement is checked as PEP 508 by name: anything else raises ``RequirementRefusedError``.
    """
    wanted = REQUIREMENT_FILES if requirement_files is None else requirement_files
    dep_files = [f for f in (*PROJECT_FILES, *wanted) if repofs.is_regular_file(work_tree, f)]
    pip_args: list[str] = []
    requirements: list[str] = []
    build: list[str] = []
    project_name = ""
    # The project's own extras that a requirement file asks for (``-e .[testutil]``): their
    # requirements are fetched too, though pip installs the project from that line.
    file_extras: list[str] = []
    wanted_extras: list[str] = []
    for name in wanted:
        if name in dep_files:
            read_file(work_tree, name, file_extras, skip_lint=skip_lint)
    if any(f in dep_files for f in PROJECT_FILES):
        build = _build_requirements(work_tree)
        if metadata is None:
            deps, extras = _project_metadata(work_tree)
        else:
            deps, extras, project_name = [], _metadata_extras(metadata), metadata.name
        by_name = {_normal(k): k for k in extras}
        # The extras tox installs for the tests (``[testenv] extras = tests,reco``) go with the test ones.
        tox = [by_name[_normal(e)] for e in tox_extras(work_tree) if _normal(e) in by_name]
        if tox and TOX_FILE not in dep_files:
            dep_files.append(TOX_FILE)
        chosen = [e for e in TEST_EXTRAS if e in extras] or [e for e in FALLBACK_EXTRAS if e in extras]
        chosen = list(dict.fromkeys([*chosen, *tox]))
        pip_args += ["-e", "." + (f"[{','.join(chosen)}]" if chosen else "")]
        if setup_py_only(work_tree):
            pip_args += COMPAT_EDITABLE
        asked = [by_name[_normal(e)] for e in file_extras if _normal(e) in by_name]
        wanted_extras = list(dict.fromkeys([*chosen, *asked]))
        if metadata is not None:
            deps = _metadata_requirements(metadata, tuple(wanted_extras), python)
        requirements += deps + [r for e in wanted_extras for r in extras[e]] + build
    for name in wanted:
        if name in dep_files:
            file_requirements, files = read_file(work_tree, name, skip_lint=skip_lint)
            if skip_lint and lint_includes(work_tree, name):
                # its checked PEP 508 lines, without the linters' files, markers evaluated for the target
                target = target_environment(python)
                kept = (applicable(Requirement(r), target, ()) for r in file_requirements)
                pip_args += [r for r in kept if r is not None]
            else:
                pip_args += ["-r", name]
            requirements += file_requirements
            dep_files += [f for f in files if f not in dep_files]
    if _normal(project_name) != "pytest" and not any(_name_of(r) == "pytest" for r in requirements):
        pip_args.append("pytest")
        requirements.append("pytest")
    return SetupPlan(
        pip_args=tuple(pip_args),
        requirements=tuple(dict.fromkeys(requirements)),
        dependency_files=tuple(dep_files),
        custom_command=setup_command,
        build_requirements=tuple(dict.fromkeys(build)),
        extras=tuple(_normal(e) for e in wanted_extras),
    )


def target_environment(python: str) -> dict[str, str]:
    """PEP 508 marker values of the sandbox's interpreter (CPython ``python`` on Linux)."""
    import platform

    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": platform.machine(),
        "platform_release": "",
        "platform_version": "",
    }


def _metadata_extras(metadata: ProjectMetadata) -> dict[str, list[str]]:
    return {_normal(e): [] for e in metadata.provides_extra}


def _metadata_requirements(metadata: ProjectMetadata, extras: tuple[str, ...], python: str) -> list[str]:
    """The ``Requires-Dist`` lines that apply to the target with ``extras``, checked and marker-free."""
    out: list[str] = []
    environment = target_environment(python)
    for line in metadata.requires_dist:
        req = check(line, f"the project's metadata (Requires-Dist of {metadata.name or 'the project'})")
        wanted = applicable(req, environment, extras)
        if wanted is not None and _normal(req.name) != _normal(metadata.name):
            out.append(wanted)
    return out


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def setup_py_only(work_tree: Path) -> bool:
    """A project built by ``setup.py`` alone (no ``[build-system]`` in a ``pyproject.toml``).

    ``pip install -e`` used to run ``setup.py develop`` for such a project, which puts the project root
    on ``sys.path``. Today's pip builds a PEP 660 wheel instead, and for a flat layout setuptools maps
    the packages with an import hook and no path entry: tools that look a module up on ``sys.path``
    (astroid, so pylint's plugin loading) then cannot find the project's own files. setuptools'
    ``editable_mode=compat`` puts the project root on ``sys.path`` again
    (``SETUPTOOLS_ENABLE_FEATURES=legacy-editable`` did, before setuptools 80 removed it).
    """
    if not repofs.is_regular_file(work_tree, "setup.py"):
        return False
    if not repofs.is_regular_file(work_tree, "pyproject.toml"):
        return True
    data = _pyproject(work_tree)
    return data is not None and "build-system" not in data  # unreadable: pip fails on it, add nothing


def _pyproject(work_tree: Path) -> dict[str, Any] | None:
    """``pyproject.toml``, parsed; None when there is none or it is not valid TOML (pip refuses it too)."""
    text = _text(work_tree, "pyproject.toml")
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def tox_extras(work_tree: Path) -> list[str]:
    """The extras ``tox.ini``'s ``[testenv]`` installs (read as data; factor-conditional lines such as
    ``py27: x`` and substitutions are left out)."""
    text = _text(work_tree, TOX_FILE)
    if text is None:
        return []
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    raw = parser.get("testenv", "extras", fallback="")
    names: list[str] = []
    for line in raw.splitlines():
        if ":" in line or "{" in line:
            continue
        names += [
            n.strip() for n in line.split(",") if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", n.strip())
        ]
    return names


def _text(work_tree: Path, name: str) -> str | None:
    return repofs.read_text_or_none(work_tree, name)


def fingerprint(work_tree: Path, plan: SetupPlan, *parts: str) -> str:
    """A hash of the dependency files' contents, the setup command, and any other ``parts``.

    ``pyproject.toml`` counts by what decides the environment (:func:`_pyproject_key`): a version bump,
    a new pin in the docs extra or a linter's settings do not make a new environment."""
    digest = hashlib.sha256()
    for name in plan.dependency_files:
        content = _pyproject_key(work_tree, plan) if name == "pyproject.toml" else None
        if content is None:
            content = repofs.read_bytes(work_tree, name)
        digest.update(name.encode() + b"\0" + content + b"\0")
    digest.update((plan.custom_command or "").encode() + b"\0")
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


#: ``[tool.*]`` tables that build or install the project (kept in the key); the others (linters, test
#: runners, formatters) are read from the work tree when the tests run, not baked into the environment.
BUILD_TOOLS = frozenset(
    {
        "setuptools",
        "setuptools_scm",
        "hatch",
        "flit",
        "poetry",
        "pdm",
        "maturin",
        "scikit-build",
        "cibuildwheel",
    }
)


def _pyproject_key(work_tree: Path, plan: SetupPlan) -> bytes | None:
    """``pyproject.toml`` as the environment sees it: without ``[project].version`` (the project is
    installed editable from the work tree), without the extras the plan does not install, without the
    ``[tool.*]`` tables of tools that do not build it. None when it is not valid TOML (hashed whole)."""
    data = _pyproject(work_tree)
    if data is None:
        return None
    project = (
        dict(data.get("project") or {}) if isinstance(data.get("project"), dict) else data.get("project")
    )
    if isinstance(project, dict):
        project.pop("version", None)
        extras = project.get("optional-dependencies")
        if isinstance(extras, dict):
            project["optional-dependencies"] = {k: v for k, v in extras.items() if _normal(k) in plan.extras}
    tools = data.get("tool")
    kept = {
        **{k: v for k, v in data.items() if k not in ("project", "tool")},
        "project": project,
        "tool": {k: v for k, v in tools.items() if k in BUILD_TOOLS} if isinstance(tools, dict) else tools,
    }
    return json.dumps(kept, sort_keys=True, default=str).encode()


def _name_of(requirement: str) -> str:
    match = _REQ_NAME.match(requirement)
    return match.group(1).lower().replace("_", "-") if match else ""


def _build_requirements(work_tree: Path) -> list[str]:
    """``[build-system].requires`` (setuptools and wheel when there is none), each checked."""
    data = _pyproject(work_tree)
    requires = (data or {}).get("build-system", {}).get("requires", DEFAULT_BUILD_REQUIRES)
    text = _text(work_tree, "pyproject.toml")
    return [
        str(check(str(r), where("pyproject.toml", text, str(r), "[build-system].requires")))
        for r in (requires if isinstance(requires, list | tuple) else [requires])
    ]


def _project_metadata(work_tree: Path) -> tuple[list[str], dict[str, list[str]]]:
    """(dependencies, extras) read statically from pyproject, setup.cfg and setup.py, each checked."""
    deps: list[str] = []
    extras: dict[str, list[str]] = {}
    data = _pyproject(work_tree)
    text = _text(work_tree, "pyproject.toml")
    if data is not None:
        project = data.get("project", {})
        table = "[project].dependencies"
        deps += [_checked(r, "pyproject.toml", text, table) for r in project.get("dependencies", [])]
        for key, value in project.get("optional-dependencies", {}).items():
            table = f"[project.optional-dependencies].{key}"
            extras[key] = [_checked(r, "pyproject.toml", text, table) for r in value]
    cfg_text = _text(work_tree, "setup.cfg")
    if cfg_text is not None:
        parser = configparser.ConfigParser()
        try:
            parser.read_string(cfg_text)
        except configparser.Error:
            parser = configparser.ConfigParser()
        for line in _lines(parser.get("options", "install_requires", fallback="")):
            deps.append(_checked(line, "setup.cfg", cfg_text, "[options] install_requires"))
        if parser.has_section("options.extras_require"):
            for key, value in parser.items("options.extras_require"):
                extras.setdefault(key, []).extend(
                    _checked(line, "setup.cfg", cfg_text, f"extras_require {key}") for line in _lines(value)
                )
    setup_text = _text(work_tree, "setup.py")
    if setup_text is not None:
        literal_deps, literal_extras = _setup_py_literals(setup_text)
        deps += [str(check(r, f"setup.py line {n} (install_requires)")) for r, n in literal_deps]
        for key, value in literal_extras.items():
            place = f"extras_require {key}"
            extras.setdefault(key, []).extend(str(check(r, f"setup.py line {n} ({place})")) for r, n in value)
    return deps, extras


def _checked(requirement: object, path: str, text: str | None, context: str) -> str:
    return str(check(str(requirement), where(path, text, str(requirement), context)))


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]


def _setup_py_literals(text: str) -> tuple[list[tuple[str, int]], dict[str, list[tuple[str, int]]]]:
    """``install_requires`` and ``extras_require`` where ``setup.py`` spells them as literals, each with
    the line it is on."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return [], {}
    deps: list[tuple[str, int]] = []
    extras: dict[str, list[tuple[str, int]]] = {}
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
        line = expr.lineno
        if node.arg == "install_requires" and isinstance(value, list | tuple):
            deps += [(str(v), line) for v in value]
        elif node.arg == "extras_require" and isinstance(value, dict):
            for key, reqs in value.items():
                items = [reqs] if isinstance(reqs, str) else [str(r) for r in reqs]
                extras[str(key)] = [(r, line) for r in items]
    return deps, extras
