"""Environment setup of real repositories, through the bot's own path. Prints JSON.

    .venv/bin/python bench/env_setup.py [--only NAME ...] [--timeout 1500] [--out bench/out/env_setup.json]

For each dev repository of SWE-bench Lite (the base commit of its first instance in
``/work/shared/data/swebench-lite-dev.jsonl``; pyvista aside) and sympy, a work tree at that commit is made
from the bare mirror (``/work/.mirror/OWNER+NAME/repo``, brought by the session's ``fetch`` tool), and
``repomind sandbox exec --repo TREE -- python -c "import PKG"`` runs as the bot would set it up: the
environment is built (or taken from the cache) and the package imported. Repositories run one after the
other, each with a wall-clock limit. Each row: ok (set up), imported, seconds, and the cause of a failure
(the last lines of the output). Issue #17's target: at least 10 of 11, and sympy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from repomind.sandbox.hostenv import git_env

DATA = Path("/work/shared/data/swebench-lite-dev.jsonl")
MIRRORS = Path("/work/.mirror")
#: Repository → the package to import, and sympy's commit (its SWE-bench Lite test instance, as an example).
PACKAGES = {
    "marshmallow-code/marshmallow": "marshmallow",
    "pvlib/pvlib-python": "pvlib",
    "pydicom/pydicom": "pydicom",
    "pylint-dev/astroid": "astroid",
    "sqlfluff/sqlfluff": "sqlfluff",
    "astropy/astropy": "astropy",
    "mwaskom/seaborn": "seaborn",
    "psf/requests": "requests",
    "pylint-dev/pylint": "pylint",
    "pytest-dev/pytest": "pytest",
    "sphinx-doc/sphinx": "sphinx",
    "sympy/sympy": "sympy",
}
SYMPY_COMMIT = "HEAD"


def _first_instances() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in DATA.read_text().splitlines():
        row = json.loads(line)
        found.setdefault(row["repo"], row["base_commit"])
    return found


def _work_tree(repo: str, commit: str, root: Path) -> Path:
    mirror = MIRRORS / repo.replace("/", "+") / "repo"
    tree = root / repo.replace("/", "__")
    env = git_env()
    subprocess.run(
        ["git", "clone", "-q", "--shared", "--no-checkout", str(mirror), str(tree)], check=True, env=env
    )
    subprocess.run(["git", "-C", str(tree), "checkout", "-q", commit], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(tree), "remote", "set-url", "origin", f"https://github.com/{repo}"],
        check=True,
        env=env,
    )
    return tree


def measure(repo: str, commit: str, root: Path, timeout_s: float) -> dict[str, Any]:
    row: dict[str, Any] = {"repo": repo, "commit": commit}
    start = time.monotonic()
    try:
        tree = _work_tree(repo, commit, root)
    except subprocess.CalledProcessError as exc:
        return {**row, "ok": False, "imported": False, "seconds": 0.0, "cause": f"checkout failed: {exc}"}
    from repomind import repoconfig
    from repomind.sandbox.environment import commit_date
    from repomind.sandbox.interpreter import choose

    config = repoconfig.load(tree)
    committed = commit_date(tree)
    chosen = choose(
        tree, python=config.python, compiler=config.compiler, image=config.image, committed=committed
    )
    row.update(python=chosen.python, compiler=chosen.compiler, chosen_because=chosen.reason)
    argv = [sys.executable, "-m", "repomind", "sandbox", "exec", "--repo", str(tree), "--"]
    argv += ["python", "-c", f"import {PACKAGES[repo]}; print({PACKAGES[repo]}.__file__)"]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, check=False, env=dict(os.environ)
        )
    except subprocess.TimeoutExpired:
        return {
            **row,
            "ok": False,
            "imported": False,
            "seconds": round(time.monotonic() - start, 1),
            "cause": f"timed out after {timeout_s:.0f} s",
        }
    seconds = round(time.monotonic() - start, 1)
    imported = proc.returncode == 0
    # The CLI reports a failed setup as "error: ..."; otherwise the environment was set up.
    setup_failed = not imported and proc.stderr.lstrip().startswith("error:")
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    # The CLI's "error: ..." line names the step (and both causes when both dates failed); then the tail.
    head = [line for line in lines[:-12] if line.startswith("error:")][:1]
    tail = "\n".join([*head, *lines[-12:]])
    return {
        **row,
        "ok": imported or not setup_failed,
        "imported": imported,
        "seconds": seconds,
        "cause": "" if imported else tail[-3000:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="repositories (owner/name) to measure")
    parser.add_argument("--timeout", type=float, default=1500.0, help="seconds per repository")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    commits = {**_first_instances(), "sympy/sympy": SYMPY_COMMIT}
    commits.pop("pyvista/pyvista", None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="repomind-env-bench-") as tmp:
        for repo, commit in commits.items():
            if args.only and repo not in args.only:
                continue
            row = measure(repo, commit, Path(tmp), args.timeout)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    report = {
        "set_up": sum(r["ok"] for r in rows),
        "imported": sum(r["imported"] for r in rows),
        "measured": len(rows),
        "rows": rows,
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
