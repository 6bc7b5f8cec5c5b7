"""Which paths a patch may change: protected paths (CI, build and dependency files) and ignored paths.

The pushed branch lives in the base repository, where CI runs with its secrets, and the model's words
come partly from strangers (the issue). So a patch that changes a CI workflow, a build file or a lockfile
is refused unless the repository's config lists the path in ``protected_paths`` (which replaces the
default when given). ``ignore_paths`` (never localised) is never edited either. The check runs on the
paths a patch actually changes, wherever a diff becomes the final patch: after the edits are applied, and
again in the bot before anything is committed.

Protected patterns are globs in the style of ``.gitignore``: a pattern without a ``/`` matches a file
name at any depth (``Makefile``, ``requirements*.txt``); one with a ``/`` is anchored at the root;
``*`` and ``?`` stay within one path segment and ``**`` spans any number of them.
"""

from __future__ import annotations

import codecs
import fnmatch
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: What a patch may not change unless the repository's config says otherwise.
DEFAULT_PROTECTED: tuple[str, ...] = (
    ".github/**",
    ".gitlab-ci.yml",
    ".circleci/**",
    "Jenkinsfile",
    "azure-pipelines.yml",
    ".travis.yml",
    ".pre-commit-config.yaml",
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "requirements*.txt",
    "tox.ini",
    "pytest.ini",
    "noxfile.py",
    "Makefile",
    "package.json",
    "poetry.lock",
    "Pipfile",
    "Pipfile.lock",
    "uv.lock",
    "pdm.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "go.mod",
)


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    text = pattern.strip()
    anchored = "/" in text.rstrip("/")
    text = text.lstrip("/")
    if text.endswith("/"):
        text += "**"
    out = []
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    body = "".join(out)
    return re.compile(body if anchored else f"(?:.*/)?{body}")


def protected_match(path: str, patterns: Iterable[str]) -> str | None:
    """The first protected pattern that ``path`` (repository-relative, POSIX) matches, or None."""
    for pattern in patterns:
        if pattern.strip() and _compile(pattern).fullmatch(path):
            return pattern
    return None


def ignored_match(path: str, patterns: Iterable[str]) -> str | None:
    """The first ``ignore_paths`` pattern ``path`` matches, with the localiser's own rule."""
    for pattern in patterns:
        if pattern and fnmatch.fnmatch(f"/{path}", f"*{pattern}"):
            return pattern
    return None


@dataclass(frozen=True)
class PathGuard:
    """The protected and ignored patterns of one repository (protected: the default unless configured)."""

    protected: tuple[str, ...] = DEFAULT_PROTECTED
    ignored: tuple[str, ...] = ()

    @classmethod
    def of(cls, protected_paths: Sequence[str] | None, ignore_paths: Sequence[str] = ()) -> PathGuard:
        protected = DEFAULT_PROTECTED if protected_paths is None else tuple(protected_paths)
        return cls(protected, tuple(ignore_paths))

    def refusal(self, path: str) -> str | None:
        """Why a patch may not change ``path`` (None: it may)."""
        hit = protected_match(path, self.protected)
        if hit is not None:
            return f"`{path}` is a protected path (`{hit}`)"
        hit = ignored_match(path, self.ignored)
        if hit is not None:
            return f"`{path}` is in `ignore_paths` (`{hit}`)"
        return None

    def refusals(self, paths: Iterable[str]) -> list[str]:
        return [why for why in (self.refusal(p) for p in paths) if why is not None]


#: How a refusal is explained, to the model and in the status comment.
HOW_TO_ALLOW = (
    "Repomind does not change CI, build or dependency files, or paths in `ignore_paths`, unless "
    "`.github/repomind.yml` lists them in `protected_paths` (which replaces the default list)."
)


def refusal_text(reasons: list[str]) -> str:
    """One line naming the refused paths."""
    shown = "; ".join(reasons[:10]) + (f"; and {len(reasons) - 10} more" if len(reasons) > 10 else "")
    return f"the patch changes paths it may not change: {shown}"


#: Source and test files by suffix; anything else a patch changes is listed apart in the PR body.
SOURCE_SUFFIXES = frozenset(
    {".py", ".pyi", ".pyx", ".pxd", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".go", ".java", ".js", ".ts"}
)
#: Python files that configure tests or builds rather than hold code: listed apart too.
_CONFIGURING = frozenset({"conftest.py", "setup.py", "noxfile.py", "fabfile.py", "manage.py"})


def outside_source(paths: Iterable[str]) -> list[str]:
    """The changed paths that are not plain source or test files (CI, build, config, data, docs...)."""
    out = []
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        suffix = name[name.rfind(".") :] if "." in name else ""
        if suffix not in SOURCE_SUFFIXES or name in _CONFIGURING or protected_match(path, DEFAULT_PROTECTED):
            out.append(path)
    return out


def _unquote(raw: str) -> str:
    """A path as git prints it: C-quoted (``"a/b\\tc"``) when it holds unusual characters."""
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        data = codecs.escape_decode(raw[1:-1].encode("utf-8"))[0]
        return bytes(data).decode("utf-8", "surrogateescape")
    return raw


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def diff_paths(diff: str) -> list[str]:
    """Every path a unified (git) diff creates, changes, deletes or renames (old and new names).

    Hunk bodies are skipped by their line counts, so a content line such as ``--- x`` is never read as
    a file name.
    """
    paths: list[str] = []

    def add(raw: str, prefix: str) -> None:
        raw = raw.strip()
        path = _unquote(raw if raw.startswith('"') else raw.split("\t", 1)[0])
        if path != "/dev/null":
            path = path.removeprefix(prefix)
            if path not in paths:
                paths.append(path)

    old = new = 0
    for line in diff.splitlines():
        if old > 0 or new > 0:  # inside a hunk
            if line.startswith("\\"):
                continue
            kind = line[:1]
            old -= kind in (" ", "-", "")
            new -= kind in (" ", "+", "")
            continue
        hunk = _HUNK.match(line)
        if hunk:
            old, new = int(hunk.group(1) or 1), int(hunk.group(2) or 1)
        elif line.startswith("--- "):
            add(line[4:], "a/")
        elif line.startswith("+++ "):
            add(line[4:], "b/")
        elif line.startswith(("rename from ", "rename to ", "copy from ", "copy to ")):
            add(_unquote(line.split(" ", 2)[2]), "")
        elif line.startswith("diff --git "):
            rest = line[len("diff --git ") :]
            size = (len(rest) - 5) // 2
            if not rest.startswith('"') and rest[2 : 2 + size] == rest[5 + size :]:
                add(rest[2 : 2 + size], "")  # mode changes and binary files have no ---/+++ lines
    return paths
