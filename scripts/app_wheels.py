"""Build the wheels the app image installs (``Dockerfile``), on the host, so that the image builds offline.

    python scripts/app_wheels.py [--out build/app-wheels] [--extras postgres]

- ``OUT/deps/``: every dependency of the base install, at the versions of the environment that runs this
  script (its ``pip freeze`` is the constraint, so the image runs what the tests ran); rebuilt only when
  the dependencies or that environment change (a stamp file keyed by their hash).
- ``OUT/app/``: the project's own wheel, rebuilt every time (a small layer of its own in the image).

The host needs a package index (or pip's cache) for the first ``deps``; ``docker build`` then needs none.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "app-wheels"
#: The ledger on PostgreSQL (compose.yaml) needs psycopg; ``--extras postgres,train`` for the GPU worker.
DEFAULT_EXTRAS = "postgres"


def _env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("PIP_")}
    # SOURCE_DATE_EPOCH: a wheel built here has the same bytes each time, so Docker's layer cache
    # (which hashes what COPY copies) still holds after the wheel directory is made again.
    return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "SOURCE_DATE_EPOCH": "315532800"}


def constraints() -> str:
    """The running environment's pins, without the project itself (installed editable)."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    ).stdout
    return "".join(
        line + "\n" for line in out.splitlines() if "==" in line and not line.startswith("repomind")
    )


def deps_key(pins: str, extras: str, deps: Path) -> str:
    """What the dependency wheels are built from: the requirements, and the pins of the packages among
    them (other packages of the environment, such as test tools, do not count)."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    chosen = [r for e in extras.split(",") if e for r in project["optional-dependencies"][e]]
    names = {parse_wheel_filename(w.name)[0] for w in deps.glob("*.whl")}
    relevant = [p for p in pins.splitlines() if canonicalize_name(p.split("==")[0]) in names]
    material = "\n".join([*project["dependencies"], extras, *chosen, *relevant])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


#: The oldest Python the image runs: Debian bookworm's python3 (the offline base) is 3.11.2, and some
#: requirements apply only below 3.11.3 (redis needs async-timeout there), which the host's pip skips.
TARGET = {"python_full_version": "3.11.2", "python_version": "3.11", "implementation_version": "3.11.2"}


def _target_only(deps: Path) -> list[str]:
    """Requirements of the wheels in ``deps`` that hold on the image's Python but not the host's, and that
    no wheel there provides."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename

    have = {parse_wheel_filename(w.name)[0] for w in deps.glob("*.whl")}
    target = {**default_environment(), **TARGET, "extra": ""}
    wanted: list[str] = []
    for wheel in deps.glob("*.whl"):
        with zipfile.ZipFile(wheel) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            lines = z.read(meta).decode(errors="replace").splitlines()
        for line in lines:
            if not line.startswith("Requires-Dist:"):
                continue
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker is None or canonicalize_name(req.name) in have:
                continue
            if req.marker.evaluate(target) and not req.marker.evaluate({"extra": ""}):
                wanted.append(str(req.name) + str(req.specifier))
    return sorted(set(wanted))


def build(out: Path, extras: str = DEFAULT_EXTRAS) -> Path:
    egg_info = ROOT / "src" / "repomind.egg-info"
    leftovers = [ROOT / "build" / "lib", *([] if egg_info.exists() else [egg_info])]
    try:
        return _build(out, extras)
    finally:  # setuptools' in-tree leftovers of the project's wheel
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)


def _build(out: Path, extras: str) -> Path:
    pins = constraints()
    deps, app = out / "deps", out / "app"
    stamps = list(deps.glob(".complete-*"))
    pip = [sys.executable, "-m", "pip", "wheel", "--no-build-isolation"]
    project = f"{ROOT}[{extras}]" if extras else str(ROOT)
    if [s.name for s in stamps] != [f".complete-{deps_key(pins, extras, deps)}"]:
        shutil.rmtree(deps, ignore_errors=True)
        deps.mkdir(parents=True)
        (out / "constraints.txt").write_text(pins)
        subprocess.run(
            [*pip, "--wheel-dir", str(deps), "-c", str(out / "constraints.txt"), project],
            check=True,
            env=_env(),
        )
        for own in deps.glob("repomind-*.whl"):
            own.unlink()
        tried: set[str] = set()
        while (extra := _target_only(deps)) and not set(extra) <= tried:
            tried.update(extra)
            subprocess.run(
                [*pip, "--wheel-dir", str(deps), "-c", str(out / "constraints.txt"), *extra],
                check=True,
                env=_env(),
            )
        (deps / f".complete-{deps_key(pins, extras, deps)}").touch()
    shutil.rmtree(app, ignore_errors=True)
    app.mkdir(parents=True)
    subprocess.run([*pip, "--no-deps", "--wheel-dir", str(app), str(ROOT)], check=True, env=_env())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--extras", default=DEFAULT_EXTRAS, help="comma-separated extras of the project")
    args = parser.parse_args()
    print(build(args.out, args.extras))


if __name__ == "__main__":
    main()
