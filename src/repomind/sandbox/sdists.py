"""Dependencies that publish no usable wheel: their sdist is fetched as a file and built in the sandbox.

The host resolves with ``uv pip compile --no-build``, which refuses a release without a wheel for the
sandbox's Python (``docopt``, an sdist only; a 2021 ``lazy-object-proxy`` for Python 3.11). Where uv says
so, the release's sdist is fetched from the index's simple API as a file, its ``[build-system].requires``
is read from the archive as data (never extracted, never run) and checked as PEP 508, those build
requirements are fetched into the wheelhouse, and the wheel is built by pip in a confined, network-less
setup container (:meth:`repomind.sandbox.setup_box.SetupBox.build_wheels`). The built wheel joins the
wheelhouse, which uv reads as ``--find-links`` when it resolves again: only its metadata is read.
"""

from __future__ import annotations

import re
import tarfile
import tomllib
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.requirements import check

#: What setuptools assumes for an sdist without ``[build-system]`` (as pip does).
LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")
#: The most of an sdist's ``pyproject.toml`` the host reads.
MAX_PYPROJECT_BYTES = 256 * 1024
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
#: uv's words for a release it cannot use without building: "docopt==0.6.2 has no usable wheels",
#: "Wheels are required for `docopt` because building from source is disabled".
_NO_WHEELS = re.compile(rf"(?<![\w.-])({_NAME})((?:[<>=!~]=?[^\s,]+,?)*) has no usable wheels")
_REQUIRED = re.compile(rf"Wheels are required for `({_NAME})`")
#: "`setuptools` was filtered by `exclude-newer` to only include packages uploaded before ..."
_FILTERED = re.compile(rf"`({_NAME})` was filtered by `exclude-newer`")


def wheel_less(uv_output: str) -> dict[str, SpecifierSet]:
    """The projects uv could not use for want of a wheel, each with the versions it asked for."""
    found: dict[str, SpecifierSet] = {}
    for match in _NO_WHEELS.finditer(uv_output):
        try:
            spec = SpecifierSet(match.group(2).rstrip(","))
        except InvalidSpecifier:
            spec = SpecifierSet()
        name = canonicalize_name(match.group(1))
        found[name] = found[name] & spec if name in found else spec
    for match in _REQUIRED.finditer(uv_output):
        found.setdefault(canonicalize_name(match.group(1)), SpecifierSet())
    return found


def too_new(uv_output: str) -> list[str]:
    """The projects uv found no fitting release of as of the date (a newer one would fit)."""
    return list(dict.fromkeys(canonicalize_name(m.group(1)) for m in _FILTERED.finditer(uv_output)))


def choose(
    files: Sequence[dict[str, object]],
    name: str,
    spec: SpecifierSet,
    python: str,
    before: str | None,
    skip: Sequence[Version] = (),
) -> dict[str, object] | None:
    """The sdist of the newest final release of ``name`` in ``spec`` for Python ``python``, uploaded
    before ``before`` (ISO 8601) when given; None when there is none."""
    limit = parse_date(before) if before else None
    best: tuple[Version, dict[str, object]] | None = None
    for entry in files:
        filename = entry.get("filename")
        if not isinstance(filename, str) or "/" in filename or entry.get("yanked") not in (None, False):
            continue
        if not filename.endswith((".tar.gz", ".zip")):
            continue
        try:
            sname, version = parse_sdist_filename(filename)
        except (InvalidSdistFilename, InvalidVersion):
            continue
        if sname != canonicalize_name(name) or version.is_prerelease or version in skip:
            continue
        if not spec.contains(version, prereleases=False) or not _python_ok(entry, python):
            continue
        uploaded = entry.get("upload-time")
        if limit and isinstance(uploaded, str) and parse_date(uploaded) > limit:
            continue
        if best is None or version > best[0]:
            best = (version, entry)
    return best[1] if best else None


def yanked(
    files: Sequence[dict[str, object]], name: str, spec: SpecifierSet, before: str | None
) -> Version | None:
    """The newest final release of ``name`` in ``spec`` (uploaded before ``before``) when every file of
    it is yanked; None otherwise."""
    limit = parse_date(before) if before else None
    states: dict[Version, list[bool]] = {}
    for entry in files:
        filename = entry.get("filename")
        if not isinstance(filename, str):
            continue
        try:
            if filename.endswith(".whl"):
                fname, version = parse_wheel_filename(filename)[:2]
            elif filename.endswith((".tar.gz", ".zip")):
                fname, version = parse_sdist_filename(filename)
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        uploaded = entry.get("upload-time")
        if fname != canonicalize_name(name) or version.is_prerelease or not spec.contains(version):
            continue
        if limit and isinstance(uploaded, str) and parse_date(uploaded) > limit:
            continue
        states.setdefault(version, []).append(entry.get("yanked") not in (None, False))
    if not states:
        return None
    newest = max(states)
    return newest if all(states[newest]) else None


def build_requires(sdist: Path) -> list[str]:
    """The sdist's ``[build-system].requires``, read from the archive as data and checked as PEP 508
    (setuptools and wheel when it declares none)."""
    text = _pyproject(sdist)
    try:
        data = tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError:
        data = {}
    requires = data.get("build-system", {}).get("requires")
    if not isinstance(requires, list):
        return list(LEGACY_BUILD_REQUIRES)
    return [str(check(str(r), f"{sdist.name}'s [build-system].requires")) for r in requires]


def build_missing(
    error: EnvironmentSetupError,
    built: dict[str, list[Version]],
    fetch_sdist: Callable[[str, SpecifierSet, Sequence[Version]], Path | None],
    build: Callable[[list[Path]], None],
) -> None:
    """Fetch and build the sdists of what ``error`` (uv's) names as wheel-less; re-raise ``error`` when
    it names none, or only releases already built (nothing new to try)."""
    sdists: list[Path] = []
    for name, spec in wheel_less(error.output).items():
        sdist = fetch_sdist(name, spec, built.get(name, []))
        if sdist is not None:
            built.setdefault(name, []).append(parse_sdist_filename(sdist.name)[1])
            sdists.append(sdist)
    if not sdists:
        raise error
    build(sdists)


def _pyproject(sdist: Path) -> str:
    """The top-level ``pyproject.toml`` of an sdist archive, size-capped; "" when it has none."""
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                for info in archive.infolist():
                    if _is_top_pyproject(info.filename) and info.file_size <= MAX_PYPROJECT_BYTES:
                        return archive.read(info).decode("utf-8", "replace")
            return ""
        with tarfile.open(sdist, "r:*") as tar:
            for member in tar:
                if _is_top_pyproject(member.name) and member.isreg() and member.size <= MAX_PYPROJECT_BYTES:
                    handle = tar.extractfile(member)
                    return handle.read(MAX_PYPROJECT_BYTES).decode("utf-8", "replace") if handle else ""
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise EnvironmentSetupError(f"{sdist.name} is not a readable source archive: {exc}") from None
    return ""


def _is_top_pyproject(name: str) -> bool:
    parts = name.strip("/").split("/")
    return len(parts) == 2 and parts[1] == "pyproject.toml"


def _python_ok(entry: dict[str, object], python: str) -> bool:
    requires = entry.get("requires-python")
    if not isinstance(requires, str) or not requires.strip():
        return True
    try:
        return SpecifierSet(requires).contains(f"{python}.0", prereleases=True)
    except InvalidSpecifier:
        return True


def parse_date(text: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed), in the local zone when it names none."""
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.astimezone()
