"""A host-side wheelhouse, so that environments install inside a container that cannot reach an index.

Nothing of the repository runs here. The requirements are PEP 508 strings by name (checked by
:mod:`repomind.sandbox.requirements` before they arrive), resolved by uv with ``--no-build`` (which never
runs a build backend: only metadata the index or a wheel states is used), for the sandbox's Python and
glibc. Each pinned release is then fetched as a file from the index's simple API: a compatible wheel, or
else the source distribution, which is only stored; it is built inside the container. Every child process
gets an allow-listed environment (:mod:`repomind.sandbox.hostenv`), never the worker's.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from packaging import tags
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from repomind.sandbox import sdists
from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.hostenv import clean_env
from repomind.sandbox.requirements import check

#: Always present: a current pip (old Debian pips cannot install a pyproject-only project in editable
#: mode; before 25.3, which dropped the ``setup.py develop`` fallback an old setuptools needs) and wheel.
BUILD_TOOLS = ("pip<25.3", "wheel")
PYPI_SIMPLE = "https://pypi.org/simple"
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_MAX_INDEX_PAGE = 64 * 1024 * 1024
_FETCH_THREADS = 6


def host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def manylinux_platforms(glibc: tuple[int, int], machine: str | None = None) -> list[str]:
    """The manylinux tags a system with this glibc can install, newest first."""
    arch = machine or platform.machine()
    tags_ = [f"manylinux_{glibc[0]}_{minor}_{arch}" for minor in range(glibc[1], 4, -1)]
    return [*tags_, f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]


def supported_tags(python: str, glibc: tuple[int, int]) -> list[tags.Tag]:
    """The wheel tags CPython ``python`` on this glibc installs, best first."""
    major, minor = (int(p) for p in python.split(".")[:2])
    platforms = [*manylinux_platforms(glibc), f"linux_{platform.machine()}"]
    return [
        *tags.cpython_tags((major, minor), platforms=platforms),
        *tags.compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=platforms),
    ]


def _cache_dir(tool: str) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base, tool))


def _run(cmd: list[str], what: str, timeout_s: float, home: str) -> str:
    env = clean_env(home=home, network=True, extra={"UV_CACHE_DIR": _cache_dir("uv"), "UV_NO_CONFIG": "1"})
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, check=False, env=env, cwd=home
        )
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentSetupError(f"{what} timed out after {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        raise EnvironmentSetupError(
            f"could not fetch the repository's requirements into a wheelhouse "
            f"({what}, exit {proc.returncode})",
            output=proc.stdout + proc.stderr,
        )
    return proc.stdout


def resolve(
    requirements: Sequence[str],
    python: str,
    glibc: tuple[int, int],
    timeout_s: float = 1800.0,
    exclude_newer: str | None = None,
    find_links: Path | None = None,
    newer: Mapping[str, str] | None = None,
    index: str = PYPI_SIMPLE,
) -> list[str]:
    """``name==version`` pins of the requirements and their dependencies for the target, by uv with
    ``--no-build`` (no build backend runs on the host); ``exclude_newer`` resolves as of that date;
    ``find_links`` holds wheels built in the sandbox (uv reads only their metadata); the projects in
    ``newer`` (name → ISO date) are resolved as of their own, later date."""
    import uv

    checked = [str(check(r, "requirement")) for r in requirements]
    with tempfile.TemporaryDirectory(prefix="repomind-resolve-") as home:
        spec = Path(home, "requirements.in")
        spec.write_text("\n".join(checked) + "\n")
        target = f"{platform.machine()}-manylinux_{glibc[0]}_{glibc[1]}"
        out = _run(
            [
                uv.find_uv_bin(),
                "pip",
                "compile",
                str(spec),
                "--python-version",
                python,
                "--python-platform",
                target,
                "--no-build",
                "--no-header",
                "--no-annotate",
                "--quiet",
                *(("--exclude-newer", exclude_newer) if exclude_newer else ()),
                *(("--find-links", str(find_links)) if find_links else ()),
                *(f"--exclude-newer-package={n}={d}" for n, d in (newer or {}).items() if exclude_newer),
                *(("--default-index", index) if index != PYPI_SIMPLE else ()),
            ],
            f"resolving for Python {python}",
            timeout_s,
            home,
        )
    lines = [line.split(";", 1)[0].strip() for line in out.splitlines()]
    return [str(check(line, "a resolved pin")) for line in lines if line and not line.startswith(("#", "-"))]


def _index_files(index: str, name: str, timeout_s: float) -> list[dict[str, object]]:
    url = f"{index.rstrip('/')}/{canonicalize_name(name)}/"
    request = urllib.request.Request(url, headers={"Accept": _SIMPLE_JSON})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data = json.loads(response.read(_MAX_INDEX_PAGE))
    except (OSError, ValueError) as exc:
        raise EnvironmentSetupError(f"the package index did not list {name}: {exc}") from None
    files = data.get("files") if isinstance(data, dict) else None
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def _choose(
    files: list[dict[str, object]], name: str, version: Version, supported: list[tags.Tag]
) -> dict[str, object]:
    """The best compatible wheel of ``name==version``, else its source distribution. A yanked release
    only when it has nothing else: uv takes one that is pinned exactly (PEP 592)."""
    kept = [f for f in files if f.get("yanked") in (None, False)]
    try:
        return _best(kept, name, version, supported)
    except EnvironmentSetupError:
        return _best(files, name, version, supported)


def _best(
    files: list[dict[str, object]], name: str, version: Version, supported: list[tags.Tag]
) -> dict[str, object]:
    rank = {tag: i for i, tag in enumerate(supported)}
    best: tuple[int, dict[str, object]] | None = None
    sdist: dict[str, object] | None = None
    for entry in files:
        filename = entry.get("filename")
        if not isinstance(filename, str) or "/" in filename:
            continue
        try:
            if filename.endswith(".whl"):
                wname, wversion, _build, wtags = parse_wheel_filename(filename)
                score = min((rank[t] for t in wtags if t in rank), default=None)
                fits = wname == canonicalize_name(name) and wversion == version and score is not None
                if fits and score is not None and (best is None or score < best[0]):
                    best = (score, entry)
            elif filename.endswith((".tar.gz", ".zip")):
                sname, sversion = parse_sdist_filename(filename)
                if sname == canonicalize_name(name) and sversion == version:
                    sdist = sdist or entry
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
    chosen = best[1] if best else sdist
    if chosen is None:
        raise EnvironmentSetupError(f"the package index has no file of {name}=={version} for this Python")
    return chosen


def _fetch(entry: dict[str, object], index: str, dest: Path, timeout_s: float) -> Path:
    filename, url = str(entry["filename"]), urllib.parse.urljoin(index.rstrip("/") + "/", str(entry["url"]))
    hashes = entry.get("hashes")
    want = hashes.get("sha256") if isinstance(hashes, dict) else None
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise EnvironmentSetupError(f"the package index gave {filename} a URL that is not http(s)")
    target = dest / filename
    if target.exists():
        return target
    digest = hashlib.sha256()
    partial = dest / f".{filename}.part"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, partial.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise EnvironmentSetupError(f"downloading {filename} failed: {exc}") from None
    if want and digest.hexdigest() != want:
        partial.unlink(missing_ok=True)
        raise EnvironmentSetupError(f"downloading {filename}: its sha256 does not match the index's")
    partial.rename(target)
    return target


def fetch(
    pins: Sequence[str],
    dest: Path,
    *,
    python: str,
    glibc: tuple[int, int],
    index: str = PYPI_SIMPLE,
    timeout_s: float = 300.0,
) -> list[Path]:
    """Each ``name==version`` as a file from the index's simple API: a wheel, else the sdist (not built)."""
    supported = supported_tags(python, glibc)

    def one(pin: str) -> Path:
        req = Requirement(pin)
        version = Version(next(iter(req.specifier)).version)
        if local := _built_wheel(built_dir(dest), req.name, version, supported):
            target = dest / local.name
            if not target.exists():
                shutil.copyfile(local, target)
            return target
        entry = _choose(_index_files(index, req.name, timeout_s), req.name, version, supported)
        return _fetch(entry, index, dest, timeout_s)

    with ThreadPoolExecutor(_FETCH_THREADS) as pool:
        return list(pool.map(one, pins))


def built_dir(dest: Path) -> Path:
    """Where the wheels built in the sandbox for the wheelhouse ``dest`` are kept (uv's find-links)."""
    return dest.with_name(dest.name + ".built")


def fetch_sdist(
    name: str,
    spec: SpecifierSet,
    skip: Sequence[Version],
    dest: Path,
    *,
    python: str,
    exclude_newer: str | None = None,
    index: str = PYPI_SIMPLE,
    timeout_s: float = 300.0,
) -> Path | None:
    """The sdist of the newest release of ``name`` in ``spec`` (not in ``skip``), as of ``exclude_newer``,
    fetched as a file into ``dest`` (nothing runs); None when the index has none."""
    files = _index_files(index, name, timeout_s)
    entry = sdists.choose(files, name, spec, python, exclude_newer, skip)
    if entry is None:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    return _fetch(entry, index, dest, timeout_s)


#: How many resolutions one download tries while it works around releases without a usable wheel.
MAX_ROUNDS = 24


def download(
    requirements: Sequence[str],
    dest: Path,
    *,
    python: str,
    glibc: tuple[int, int] = (2, 36),
    log: Callable[[str], None] = lambda _line: None,
    timeout_s: float = 1800.0,
    exclude_newer: str | None = None,
    index: str = PYPI_SIMPLE,
    build: Callable[[list[Path]], None] | None = None,
) -> list[str]:
    """Resolve ``requirements`` (with their dependencies) for Python ``python`` and fetch every pinned
    file into ``dest``; returns the pins. ``exclude_newer`` (an ISO date) resolves as of then.

    Where uv finds a release without a usable wheel for the target, or none recent enough: a project
    whose newest release is yanked is pinned to it; as of a date, that project is resolved as of a year
    later, then two, up to today (an old C extension has no wheel for today's Python; the first later
    release that has one is closest to what the commit used); where even today's have none, ``build``
    (when given) gets its sdist, fetched as a file, to build in the sandbox into :func:`built_dir`.
    Then the resolution runs again."""
    dest.mkdir(parents=True, exist_ok=True)
    if not requirements:
        return []
    built, versions, newer = built_dir(dest), dict[str, list[Version]](), dict[str, str]()
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def one(name: str, spec: SpecifierSet, skip: Sequence[Version]) -> Path | None:
        date = newer.get(name, exclude_newer)
        where = dest.with_name(dest.name + ".sdists")
        return fetch_sdist(name, spec, skip, where, python=python, exclude_newer=date, index=index)

    for round_ in range(MAX_ROUNDS + 1):
        try:
            found = built if built.is_dir() else None
            pins = resolve(requirements, python, glibc, timeout_s, exclude_newer, found, newer, index)
            break
        except EnvironmentSetupError as exc:
            if round_ == MAX_ROUNDS:
                raise
            named = sdists.wheel_less(exc.output)
            # A project whose newest release is yanked (all of it, as types-pkg-resources): uv takes a
            # yanked release only when it is pinned exactly (PEP 592), so it is pinned.
            yanked = [
                f"{n}=={v}"
                for n, spec in named.items()
                if (v := sdists.yanked(_index_files(index, n, 300.0), n, spec, exclude_newer))
                and f"{n}=={v}" not in requirements
            ]
            if yanked:
                log(f"pinning the yanked newest release of {', '.join(yanked)}")
                requirements = [*requirements, *yanked]
                continue
            late = [
                n for n in [*named, *sdists.too_new(exc.output)] if exclude_newer and newer.get(n) != today
            ]
            # A project not widened yet first: uv also names the dependant whose older releases have no
            # wheel (matplotlib, when contourpy is the one a newer matplotlib needs).
            fresh = [n for n in dict.fromkeys(late) if n not in newer]
            missing = fresh or list(dict.fromkeys(late))
            if not (build or missing):
                raise
            if exclude_newer and missing:
                for name in missing:
                    newer[name] = _year_later(newer.get(name, exclude_newer), today)
                log(
                    "nothing usable as of the date; later releases of "
                    + ", ".join(f"{n} (as of {newer[n]})" for n in missing)
                )
                continue

            assert build is not None
            sdists.build_missing(exc, versions, one, lambda files: _build(build, files, log))
    log(f"fetching {len(pins)} files for Python {python}")
    fetch(pins, dest, python=python, glibc=glibc, index=index)
    return pins


def _year_later(date: str, today: str) -> str:
    """``date`` plus a year (ISO 8601), or ``today`` when that is later."""
    later = sdists.parse_date(date) + timedelta(days=365)
    return (
        today if later >= sdists.parse_date(today) else later.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def _build(build: Callable[[list[Path]], None], files: list[Path], log: Callable[[str], None]) -> None:
    log(f"building {', '.join(f.name for f in files)} in the sandbox (no usable wheel)")
    build(files)


def _built_wheel(directory: Path, name: str, version: Version, supported: list[tags.Tag]) -> Path | None:
    """A wheel of ``name==version`` built in the sandbox for this target, if there is one."""
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob("*.whl")):
        try:
            wname, wversion, _build, wtags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if wname == canonicalize_name(name) and wversion == version and not wtags.isdisjoint(supported):
            return path
    return None


def build_tools(dest: Path, *, python: str, glibc: tuple[int, int], log: Callable[[str], None]) -> list[str]:
    """:data:`BUILD_TOOLS`, current whatever the commit's date."""
    return download(BUILD_TOOLS, dest, python=python, glibc=glibc, log=log)
