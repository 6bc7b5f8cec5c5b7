"""The requirements a ``packages: requirements.txt`` specification installs, as ``swebench`` builds them:
the first of the repository's known requirement files at the environment commit, ``-r`` includes inlined,
the project itself (``-e .``) left out, and the packages PyPI no longer serves replaced. Read from the local
repository with git instead of GitHub."""

from __future__ import annotations

import os
import re
from pathlib import Path

from repomind.eval.swebench.specs import REQUIREMENTS_FILE
from repomind.pipeline.solve.workspace import run_git

DEFAULT_PATHS = ("requirements.txt",)


def _known(repo: str) -> tuple[tuple[str, ...], list[tuple[str, str | None]]]:
    from swebench.harness.constants import MAP_REPO_TO_REQS_PATHS
    from swebench.harness.test_spec.python import REPLACE_REQ_PACKAGES

    return tuple(MAP_REPO_TO_REQS_PATHS.get(repo, DEFAULT_PATHS)), list(REPLACE_REQ_PACKAGES)


def _excluded(line: str) -> bool:
    return any(line.strip().startswith(x) for x in ("-e .", "#", ".[test"))


def collect(tree: Path, repo: str, commit: str) -> str | None:
    """The requirements text, or None when none of the known files exists at ``commit``."""
    paths, replacements = _known(repo)
    for path in paths:
        text = run_git(tree, "show", f"{commit}:{path}", check=False)
        if text:
            break
    else:
        return None
    folder = "/".join(path.split("/")[:-1])
    extra: list[str] = []
    own: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("-r"):
            name = line.strip()[2:].strip()
            included = run_git(tree, "show", f"{commit}:{f'{folder}/' if folder else ''}{name}", check=False)
            extra += [x for x in included.splitlines() if not _excluded(x)]
        elif not _excluded(line):
            own.append(line)
    result = "\n".join([*extra, *own]) + "\n"
    for package, replacement in replacements:
        pattern = rf"^{re.escape(package)}([<>=!~]=?.*|$)"
        result = re.sub(
            pattern + (r"\n?" if replacement is None else ""), replacement or "", result, flags=re.M
        )
    return result


def write_requirements(tree: Path, repo: str, commit: str) -> list[str] | None:
    """Write them to the work tree (where the environment's setup reads them) and return the plain
    requirement lines (for the wheelhouse); None when the repository has none at ``commit``."""
    text = collect(tree, repo, commit)
    if text is None:
        return None
    target = tree / REQUIREMENTS_FILE
    if target.is_symlink():  # a committed symlink of that name: never written through
        target.unlink()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [
        line for line in lines if line and not line.startswith(("-", "#", ".", "/")) and "://" not in line
    ]
