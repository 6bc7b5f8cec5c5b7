"""Which Python, and whether a C compiler, a repository's environment gets, from its declared metadata.

The repository's ``.github/repomind.yml`` (``python:``, ``compiler:``) always wins. Otherwise its own files
are read as data through :mod:`repomind.sandbox.repofs` (TOML, INI, string literals of ``setup.py``;
nothing of the repository runs): ``requires-python`` / ``python_requires`` and the ``Programming Language
:: Python :: 3.X`` classifiers choose among the sandbox images' Pythons, and a declared compiled extension
(``Extension(...)`` with sources that exist, ``ext_modules=`` built in code, a build system that builds
extensions, ``.pyx`` files in a top-level package) chooses the compiler variant of that Python.
"""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from repomind.sandbox import repofs
from repomind.sandbox.images import DEFAULT_PYTHON, PYTHON_SUITES

#: The Python each sandbox image runs (Debian's python3 of that release), for ``requires-python``.
IMAGE_PYTHON = {"3.9": "3.9.2", "3.11": "3.11.2", "3.13": "3.13.5"}
#: When each image's Python was released: a project that builds extensions, at a commit older than its
#: chosen Python, gets the newest one released by then (astropy of 2022 pins a Cython whose generated C
#: does not compile on 3.11).
RELEASED = {"3.9": "2020-10-05", "3.11": "2022-10-24", "3.13": "2024-10-07"}
#: A project whose newest listed Python 3 is older than this never ran where Python warned about what
#: 3.10 and 3.11 removed (``collections.Mapping`` warns from 3.7 on): it gets the oldest image's Python.
LEGACY_BELOW = 7
#: Build requirements and backends that build compiled extensions.
EXTENSION_BUILDERS = frozenset(
    {"cython", "extension-helpers", "numpy", "oldest-supported-numpy", "pybind11", "nanobind", "cffi"}
    | {"setuptools-rust", "scikit-build", "scikit-build-core", "meson-python"}
)
_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (\d)(?:\.(\d{1,2}))?\s*$")


@dataclass(frozen=True)
class Interpreter:
    """The Python version and image variant of an environment, and why they were chosen."""

    python: str
    compiler: bool
    reason: str
    #: Chosen from the repository's metadata (not its config) and not the plain default.
    automatic: bool = False

    def describe(self) -> str:
        return f"Python {self.python}{' with a C compiler' if self.compiler else ''} ({self.reason})"


def choose(
    work_tree: Path,
    *,
    python: str | None = None,
    compiler: bool | None = None,
    image: str | None = None,
    committed: str | None = None,
) -> Interpreter:
    """The interpreter for ``work_tree``: ``python`` and ``compiler`` (the repository config) when given,
    else what its metadata declares (and, for extensions, the ``committed`` ISO date); a configured
    ``image`` brings its own (the default Python's markers)."""
    if image:
        return Interpreter(python or DEFAULT_PYTHON, False, f"the configured image {image}")
    meta = _Metadata.read(work_tree)
    if compiler is not None:
        needs, because = compiler, "compiler from the repository config"
    else:
        found = meta.extension_reason or _pyx_package(work_tree)
        needs, because = found is not None, found or ""
    version, why = (python, "python from the repository config") if python else _python(meta)
    day = (committed or "")[:10]
    if not python and needs and day and day < RELEASED[version]:
        allowed, said = _allowed(meta)
        older = [v for v in allowed if RELEASED[v] <= day]
        if older:
            why = f"its commit ({day}) predates Python {version} ({RELEASED[version]}), which its extensions"
            why += " may not build for" + (f"; {said} allows {older[-1]}" if said else "")
            version = older[-1]
    reason = "; ".join(r for r in (why, because) if r)
    automatic = (python is None and version != DEFAULT_PYTHON) or (compiler is None and needs)
    return Interpreter(version, needs, reason, automatic)


@dataclass
class _Metadata:
    requires_python: str | None = None
    where: str = ""
    minors: tuple[int, ...] = ()  # the 3.X classifiers
    python2_only: bool = False
    extension_reason: str | None = None

    @classmethod
    def read(cls, work_tree: Path) -> _Metadata:
        meta, classifiers = cls(), []
        data = _toml(repofs.read_text_or_none(work_tree, "pyproject.toml"))
        project, build = _table(data, "project"), _table(data, "build-system")
        meta._requires(project.get("requires-python"), "pyproject.toml")
        listed = project.get("classifiers")
        classifiers += [c for c in listed if isinstance(c, str)] if isinstance(listed, list) else []
        meta.extension_reason = _builder(build)
        cfg = _cfg(repofs.read_text_or_none(work_tree, "setup.cfg"))
        meta._requires(cfg.get("options", "python_requires", fallback=None), "setup.cfg")
        classifiers += cfg.get("metadata", "classifiers", fallback="").splitlines()
        setup = _parse(repofs.read_text_or_none(work_tree, "setup.py"))
        if setup is not None:
            names = {t.id: s.value for s in setup.body if isinstance(s, ast.Assign) for t in s.targets[:1]
                     if isinstance(t, ast.Name)}  # fmt: skip
            for node in ast.walk(setup):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    classifiers.append(node.value)
                value = _keyword(node, "python_requires", names)
                if isinstance(value, str):
                    meta._requires(value, "setup.py")
                meta.extension_reason = meta.extension_reason or _extension(work_tree, node, names)
        found = [_CLASSIFIER.match(c.strip()) for c in classifiers]
        versions = {(int(m[1]), int(m[2] or -1)) for m in found if m}
        meta.minors = tuple(sorted(minor for major, minor in versions if major == 3 and minor >= 0))
        meta.python2_only = bool(versions) and all(major == 2 for major, _ in versions)
        return meta

    def _requires(self, value: object, where: str) -> None:
        if self.requires_python is None and isinstance(value, str) and value.strip():
            self.requires_python, self.where = value.strip(), where


def _allowed(meta: _Metadata) -> tuple[list[str], str]:
    """The images' Pythons that requires-python allows (oldest first), and what it said."""
    versions = sorted(PYTHON_SUITES, key=lambda v: int(v.split(".")[1]))
    try:
        spec = SpecifierSet(meta.requires_python or "")
    except InvalidSpecifier:
        return versions, ""
    said = f"{meta.where} requires-python {meta.requires_python!r}" if meta.requires_python else ""
    return [v for v in versions if spec.contains(IMAGE_PYTHON[v], prereleases=True)], said


def _python(meta: _Metadata) -> tuple[str, str]:
    allowed, said = _allowed(meta)
    if not allowed:  # none fits: the nearest end
        versions = sorted(PYTHON_SUITES, key=lambda v: int(v.split(".")[1]))
        spec = SpecifierSet(meta.requires_python or "")
        older = any(spec.contains(f"3.{m}", prereleases=True) for m in range(int(versions[0][2:])))
        return (versions[0] if older else versions[-1]), f"{said} allows none of {', '.join(versions)}"
    newest = meta.minors[-1] if meta.minors else None
    if (newest is not None and newest < LEGACY_BELOW) or meta.python2_only:
        listed = f"3.{newest}" if newest is not None else "Python 2 only"
        below = [v for v in allowed if newest is not None and int(v[2:]) <= newest]
        pick = below[-1] if below else allowed[0]
        return pick, f"its classifiers list up to {listed}, older than 3.{LEGACY_BELOW}" + (
            f", and {said} allows it" if said else ""
        )
    if DEFAULT_PYTHON in allowed:
        return DEFAULT_PYTHON, f"the default{f', which {said} allows' if said else ''}"
    return allowed[-1], f"{said} excludes the default {DEFAULT_PYTHON}"


def _builder(build: dict[str, object]) -> str | None:
    backend = str(build.get("build-backend", ""))
    if backend.startswith(("mesonpy", "scikit_build_core", "maturin")):
        return f"pyproject.toml build-backend {backend!r} builds extensions"
    requires = build.get("requires", [])
    for text in requires if isinstance(requires, list) else []:
        try:
            name = canonicalize_name(Requirement(str(text)).name)
        except InvalidRequirement:
            continue
        if name in EXTENSION_BUILDERS:
            return f"pyproject.toml [build-system].requires names {name}"
    return None


def _keyword(node: ast.AST, name: str, names: dict[str, ast.expr]) -> object:
    """The literal value of ``name=...`` in a call or ``{'name': ...}`` in a dict, else None."""
    if isinstance(node, ast.keyword) and node.arg == name:
        return _literal(node.value, names)
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == name:
                return _literal(value, names)
    return None


def _literal(expr: ast.expr | None, names: dict[str, ast.expr]) -> object:
    """The value of a literal expression, or of a module-level ``NAME = <literal>`` it names; else None."""
    if isinstance(expr, ast.Name):
        expr = names.get(expr.id)
    try:
        return ast.literal_eval(expr) if expr is not None else None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _extension(work_tree: Path, node: ast.AST, names: dict[str, ast.expr]) -> str | None:
    """Why ``node`` of ``setup.py`` declares a compiled extension, or None."""
    if isinstance(node, ast.keyword) and node.arg in ("ext_modules", "cffi_modules"):
        # built in code (astropy's get_extensions()); a literal list holds the Extension(...) calls
        return None if not isinstance(node.value, ast.Call) else f"setup.py builds {node.arg} in code"
    if not isinstance(node, ast.Call):
        return None
    func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
    if func not in ("Extension", "Pybind11Extension", "RustExtension"):
        return None
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    sources = _literal(node.args[1] if len(node.args) > 1 else keywords.get("sources"), names)
    present = isinstance(sources, list | tuple) and any(
        repofs.is_regular_file(work_tree, s) for s in sources if isinstance(s, str)
    )
    if isinstance(sources, list | tuple) and sources and not present:
        return None  # its sources are not in the repository (pvlib's optional NREL SPA code)
    return f"setup.py declares {func}(...) on line {node.lineno}"


def _pyx_package(work_tree: Path) -> str | None:
    """A Cython source in a top-level package (``pkg/*.pyx`` or ``src/pkg/*.pyx``)."""
    try:
        top = repofs.list_dir(work_tree, limit=2000)
        src = repofs.list_dir(work_tree, "src", limit=200) if ("src", "dir") in top else []
    except (OSError, repofs.UnsafePathError):
        return None
    packages = [n for n, k in top if k == "dir" and not n.startswith(".")]
    packages += [f"src/{n}" for n, k in src if k == "dir" and not n.startswith(".")]
    for package in packages[:200]:
        try:
            entries = repofs.list_dir(work_tree, package, limit=2000)
        except (OSError, repofs.UnsafePathError):
            continue
        pyx = next((n for n, k in entries if k == "file" and n.endswith(".pyx")), None)
        if pyx:
            return f"{package}/{pyx} is a Cython source"
    return None


def _table(data: dict[str, object], name: str) -> dict[str, object]:
    table = data.get(name)
    return table if isinstance(table, dict) else {}


def _toml(text: str | None) -> dict[str, object]:
    try:
        return tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError:
        return {}


def _cfg(text: str | None) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text or "")
    except configparser.Error:
        return configparser.ConfigParser(interpolation=None)
    return parser


def _parse(text: str | None) -> ast.Module | None:
    try:
        return ast.parse(text) if text else None
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
