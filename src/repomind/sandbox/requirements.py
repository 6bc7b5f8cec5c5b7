"""Requirement strings from a repository, checked on the host before anything uses them.

Every requirement the repository declares (``pyproject.toml``, ``setup.cfg``, ``setup.py`` literals,
requirement files, the ``Requires-Dist`` lines of its metadata) must be a PEP 508 requirement by name
and version: nothing else reaches a host-side resolver. A pip option (``-r FILE``, ``--index-url``,
``-e PATH``), a path, a URL or a VCS reference would make the host read a file, reach another index or run a
build backend; those are refused here with the file and line, and the repository is told how to bring
them instead (its ``setup_command``, which runs inside the sandbox, or an allow-listed ``image``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from repomind.sandbox import repofs
from repomind.sandbox.errors import EnvironmentSetupError

ADVICE = (
    "Repomind installs only requirements by name and version from the package index. Install anything "
    "else in `setup_command` in .github/repomind.yml (it runs inside the sandbox), or use an image that "
    "the operator allow-listed (`image:`)."
)
#: Requirement-file lines that mean the project itself, which is installed from the work tree anyway.
_SELF = (".", "-e .", "-e.", "--editable .", "--editable=.")
_INCLUDE = ("-r", "--requirement", "-c", "--constraint")
_MAX_SHOWN = 120
_MAX_INCLUDES = 20


class RequirementRefusedError(EnvironmentSetupError):
    """A requirement the repository declares is not a plain PEP 508 requirement by name."""


def _shown(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= _MAX_SHOWN else one_line[:_MAX_SHOWN] + "…"


def refuse(where: str, text: str, why: str) -> RequirementRefusedError:
    return RequirementRefusedError(f"{where}: `{_shown(text)}` {why}. {ADVICE}")


def check(text: str, where: str) -> Requirement:
    """``text`` parsed as PEP 508, by name (no URL); :class:`RequirementRefusedError` otherwise."""
    stripped = text.strip()
    if stripped.startswith("-"):
        raise refuse(where, stripped, "is a pip option, which Repomind does not pass to pip on the host")
    if "$" in stripped:
        raise refuse(where, stripped, "names an environment variable, which the host never expands")
    try:
        req = Requirement(stripped)
    except InvalidRequirement:
        raise refuse(
            where, stripped, "is not a PEP 508 requirement (a path, URL or VCS reference is refused)"
        ) from None
    if req.url:
        raise refuse(where, stripped, "is a direct reference (a URL, path or VCS reference)")
    return req


def applicable(req: Requirement, environment: dict[str, str], extras: tuple[str, ...]) -> str | None:
    """``req`` without its marker when the marker holds for ``environment`` with no extra or one of
    ``extras`` (as pip decides for ``project[extras]``); None when it does not apply."""
    if req.marker is not None and not any(
        req.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
    ):
        return None
    names = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{names}{req.specifier}"


def line_of(text: str, needle: str) -> int | None:
    """The 1-based line of ``text`` where ``needle`` first appears (to name a TOML or INI value's line)."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


def where(path: str, text: str | None, needle: str, context: str = "") -> str:
    number = line_of(text, needle.strip()) if text is not None else None
    place = f"{path} line {number}" if number else path
    return f"{place} ({context})" if context else place


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) with continuations joined and comments removed, as pip reads them."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line, pending = pending + raw, ""
        if line.lstrip().startswith("#"):
            continue
        line = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if line:
            yield start, line
    if pending.strip():
        yield start, pending.strip()


def _is_self(line: str) -> bool:
    compact = " ".join(line.split())
    base = compact.split("[", 1)[0]
    return base in _SELF or base.rstrip("/") in _SELF


#: Requirement files of linters, formatters, type checkers and pre-commit hooks, by name: tests do not
#: need them, and their pins (``pylint==2.11.1``, which wants ``astroid<2.9``) can exclude the project
#: itself. Left out only when an environment with them cannot be set up.
LINT_ONLY = re.compile(r"(?i)(pre[-_]?commit|lint|flake8|mypy|typing|black|isort|format|style)[^/]*$")


def read_file(
    root: Path, name: str, extras: list[str] | None = None, *, skip_lint: bool = False
) -> tuple[list[str], list[str]]:
    """(requirements, files read) of requirement file ``name``, following ``-r``/``-c`` includes that
    stay inside the repository; anything else that is not a PEP 508 requirement is refused. The extras
    of the project itself (``-e .[testutil]``) are added to ``extras``. ``skip_lint``: included files
    named like :data:`LINT_ONLY` are not followed."""
    out: list[str] = []
    files: list[str] = []
    _read(root, name, out, files, [] if extras is None else extras, skip_lint)
    return out, files


def lint_includes(root: Path, name: str) -> list[str]:
    """The files :data:`LINT_ONLY` names that requirement file ``name`` includes (at any depth)."""
    _, files = read_file(root, name)
    return [f for f in files[1:] if LINT_ONLY.search(f)]


def _read(
    root: Path, name: str, out: list[str], files: list[str], extras: list[str], skip_lint: bool = False
) -> None:
    if name in files or (skip_lint and files and LINT_ONLY.search(name)):
        return
    if len(files) >= _MAX_INCLUDES:
        raise refuse(name, name, f"is one requirement file too many (at most {_MAX_INCLUDES} are read)")
    files.append(name)
    text = repofs.read_text(root, name)
    for number, line in _logical_lines(text):
        here = f"{name} line {number}"
        option, _, rest = line.partition(" ")
        if option.startswith(("-r", "-c")) and option not in ("-r", "-c"):
            option, rest = option[:2], option[2:]
        elif "=" in option and option.split("=", 1)[0] in _INCLUDE:
            option, rest = option.split("=", 1)
        if option in _INCLUDE:
            target = _include(name, rest.strip(), here, line)
            if not repofs.is_regular_file(root, target):
                raise refuse(here, line, "includes a file that is missing, a symlink or not a regular file")
            _read(root, target, out, files, extras, skip_lint)
        elif _is_self(line):  # the project itself: installed from the work tree inside the sandbox
            _, bracket, names = " ".join(line.split()).partition("[")
            extras += [e.strip() for e in names.split("]", 1)[0].split(",") if bracket and e.strip()]
        else:
            out.append(str(check(line, here)))


def _include(parent: str, target: str, here: str, line: str) -> str:
    """The repository path of an included requirement file, which must stay inside the repository."""
    if not target or "://" in target or target.startswith(("/", "~")) or "$" in target:
        raise refuse(here, line, "includes a file outside the repository")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(parent), target))
    if joined.startswith("..") or joined.startswith("/"):
        raise refuse(here, line, "includes a file outside the repository")
    return joined
