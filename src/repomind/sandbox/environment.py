"""Repository environments: install dependencies once, cache the result as an image keyed by content."""

from __future__ import annotations

import contextlib
import functools
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from repomind.sandbox import interpreter, sdists, setup_plan, wheelhouse
from repomind.sandbox.errors import EnvironmentSetupError, ImageNotAllowedError, ImageNotFoundError
from repomind.sandbox.hostenv import git_env
from repomind.sandbox.images import (
    BASE_REPOSITORY,
    SUITE_GLIBC,
    base_image_tag,
    find_image,
    require_base_image,
    suite_for,
)
from repomind.sandbox.limits import Limits
from repomind.sandbox.requirements import RequirementRefusedError, check
from repomind.sandbox.setup_box import ENV_REPOSITORY, SetupBox
from repomind.sandbox.types import Environment, EnvironmentSpec

#: Bump when the way environments are built changes, so that old cached images are not reused.
RECIPE_VERSION = "4"
__all__ = ["ENV_REPOSITORY", "build", "check_image", "env_tag"]


def env_tag(repo_name: str, key: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", repo_name.lower()).strip("-.") or "repo"
    return f"{ENV_REPOSITORY}/{slug}:{key}"


def remove_environments(repo_name: str, client: Any = None) -> int:
    """Remove every cached environment image of ``repo_name`` (its installation or the repository was
    removed); the number removed. 0 when no Docker daemon answers."""
    import docker

    slug = env_tag(repo_name, "x").rsplit(":", 1)[0]
    try:
        client = client or docker.from_env()
        removed = 0
        for image in client.images.list(name=slug):
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(image.id, force=True)
                removed += 1
        return removed
    except docker.errors.DockerException:
        return 0


def check_image(image: str, allowed: Collection[str]) -> None:
    """A repository's ``image:`` must be one the operator allow-listed (``REPOMIND_SANDBOX_IMAGES``) or a
    sandbox base image, and never a cached environment (another repository's dependencies and code)."""

    def bare(ref: str) -> str:
        return ref.removeprefix("docker.io/").removeprefix("library/")

    if bare(image).startswith(f"{ENV_REPOSITORY}/"):
        raise ImageNotAllowedError(
            f"the configured image {image} is a cached repository environment, which a repository may not use"
        )
    if bare(image).startswith(f"{BASE_REPOSITORY}:"):
        return
    if bare(image) not in {bare(a) for a in allowed}:
        known = ", ".join(sorted(allowed)) or "none"
        raise ImageNotAllowedError(
            f"the configured image {image} is not one the operator allows (REPOMIND_SANDBOX_IMAGES: {known})"
        )


def build(
    client: Any,
    work_tree: Path,
    spec: EnvironmentSpec,
    *,
    limits: Limits,
    setup_timeout_s: float = 1800.0,
    log: Callable[[str], None] = lambda _line: None,
    allowed_images: Collection[str] = (),
) -> Environment:
    """Return the cached environment for this repository and dependency state, or build and cache it.

    The repository's requirements are checked as PEP 508 on the host, its metadata is built by its own
    build backend in a confined, network-less container, the wheelhouse is fetched on the host (files
    only, nothing built), resolved as of the commit's date, and everything installs in another confined
    container.
    """
    start = time.monotonic()
    # The config's python/compiler, else what the repository's metadata declares (read as data).
    committed = commit_date(work_tree)
    chosen = interpreter.choose(
        work_tree, python=spec.python, compiler=spec.compiler, image=spec.image, committed=committed
    )
    python = chosen.python
    log(f"interpreter: {chosen.describe()}")
    plan = setup_plan.detect(work_tree, spec.setup_command, spec.requirement_files, python=python)
    if spec.image:
        check_image(spec.image, allowed_images)
        base_tag, base = spec.image, find_image(client, spec.image)
        if base is None:
            raise ImageNotFoundError(f"the configured image {spec.image} does not exist")
    else:
        base_tag = base_image_tag(python, chosen.compiler)
        try:
            base = require_base_image(client, python, chosen.compiler)
        except ImageNotFoundError as exc:
            raise ImageNotFoundError(f"{exc.message}; chosen: {chosen.describe()}") from exc
    # As of the commit's date first, as the SWE-bench harness does: an old commit gets the releases it was
    # written against (a setuptools with ``dep_util``, a since-removed package, numpy 1.x), though not
    # older than the image's Python; where that fails, today's releases. A date the spec gives, alone.
    dates = resolution_dates(committed, python, spec.resolve_before)
    as_of = spec.resolve_before
    key = setup_plan.fingerprint(
        work_tree,
        plan,
        spec.repo_name,
        base.id,
        RECIPE_VERSION,
        str(spec.network),
        # The base image's id names the Python and compiler variant; a configured image does not.
        *((f"python {python}",) if spec.image and spec.python else ()),
        *(("keep-work-tree",) if spec.keep_work_tree else ()),
        *spec.requirements,
        *(f"step {' '.join(step)}" for step in spec.requirement_steps),
        *((f"before {as_of}",) if as_of else ()),
        # Resolved from the image's Python's release rather than the commit's date: not the environment
        # an earlier Repomind cached for this commit (with releases that do not run on that Python).
        *((f"from {dates[0]}",) if dates[0] and dates[0] != committed and not as_of else ()),
    )
    tag = env_tag(spec.repo_name, key)
    note = chosen.describe() if chosen.automatic else ""
    if find_image(client, tag) is not None:
        log(f"environment {tag} is cached")
        seconds = time.monotonic() - start
        return Environment(tag, key, cached=True, setup_seconds=seconds, plan=plan.pip_args, interpreter=note)

    glibc = SUITE_GLIBC[suite_for(python)] if not spec.image or spec.python else SUITE_GLIBC["bookworm"]
    box = SetupBox(client, base_tag, work_tree, spec, limits, setup_timeout_s, project_version(work_tree))
    output, static, earlier = "", plan, ""
    # Then, when a requirement file includes linters' files, the same again without them: a linter's
    # pin (``pylint==2.11.1``, wanting ``astroid<2.9``) can exclude the project itself.
    tries = [(date, False) for date in dates]
    if setup_plan.has_lint_includes(work_tree, spec.requirement_files):
        tries += [(date, True) for date in dates]
    for number, (date, skip_lint) in enumerate(tries, 1):
        if skip_lint:
            static = setup_plan.detect(
                work_tree, spec.setup_command, spec.requirement_files, python=python, skip_lint=True
            )
        try:
            output, plan = _setup(box, work_tree, spec, static, python, glibc, date, tag, key, log, skip_lint)
            break
        except RequirementRefusedError:
            raise
        except EnvironmentSetupError as exc:
            tail = " / ".join(exc.output.strip().splitlines()[-3:])[-600:]
            if number == len(tries):
                if earlier:  # every cause, the one as of the commit's date first
                    message = f"{exc.message} (at last {_describe(date, skip_lint)}; {earlier})"
                    raise EnvironmentSetupError(message, output=exc.output) from exc
                raise
            earlier += f"{'; ' if earlier else ''}{_describe(date, skip_lint)}: {exc.message}: {tail}"
            log(f"setting up {_describe(date, skip_lint)} failed ({exc.message}: {tail}); trying again")
    log(f"environment {tag} built in {time.monotonic() - start:.1f} s")
    seconds = time.monotonic() - start
    return Environment(
        tag, key, cached=False, setup_seconds=seconds, plan=plan.pip_args, log=output, interpreter=note
    )


def _describe(date: str | None, skip_lint: bool) -> str:
    when = f"as of {date}" if date else "with today's releases"
    return f"{when} without linters' requirement files" if skip_lint else when


def _setup(
    box: SetupBox,
    work_tree: Path,
    spec: EnvironmentSpec,
    plan: setup_plan.SetupPlan,
    python: str,
    glibc: tuple[int, int],
    as_of: str | None,
    tag: str,
    key: str,
    log: Callable[[str], None],
    skip_lint: bool = False,
) -> tuple[str, setup_plan.SetupPlan]:
    with tempfile.TemporaryDirectory(prefix="repomind-wheels-") as tmp:
        wheels = Path(tmp, "wheelhouse")
        tools = wheelhouse.build_tools(wheels, python=python, glibc=glibc, log=log)

        def build(files: list[Path]) -> None:
            # A release without a usable wheel: its sdist's build requirements (as of the date) into the
            # wheelhouse, then the wheel is built in the sandbox (no network) for the next resolution.
            for sdist in files:
                requires = sdists.build_requires(sdist)
                fetch(requires, exclude_newer=as_of, build=None)
            box.build_wheels(wheels, tools, files, wheelhouse.built_dir(wheels))

        fetch = functools.partial(
            wheelhouse.download, dest=wheels, python=python, glibc=glibc, log=log, build=build
        )
        # The build system's requirements as of the commit's date (an old project's setuptools), installed
        # into the environment before the project, which is then built without build isolation.
        build_pins = _merge(tools, fetch(plan.build_requirements, exclude_newer=as_of))
        if setup_plan.has_project(work_tree):
            log(f"building the metadata of {spec.repo_name} in the sandbox")
            try:
                metadata = box.metadata(wheels, build_pins)
                plan = setup_plan.detect(
                    work_tree,
                    spec.setup_command,
                    spec.requirement_files,
                    metadata=metadata,
                    python=python,
                    skip_lint=skip_lint,
                )
            except EnvironmentSetupError as exc:
                if not spec.setup_command:
                    raise
                log(f"the project's metadata could not be built ({exc.message}); using its static reading")
        log(f"setting up {spec.repo_name}: {plan.describe()}")
        build_set = set(plan.build_requirements)
        fetch([r for r in plan.requirements if r not in build_set], exclude_newer=as_of)
        if spec.requirements:  # explicit pins: never bounded by the date
            fetch([str(check(r, "the environment's extra requirements")) for r in spec.requirements])
        for step in spec.requirement_steps:  # one resolution per install step, in order
            fetch([str(check(r, "the environment's install steps")) for r in step])
        output = box.install(wheels, build_pins, plan, tag, key)
    return output, plan


def _merge(tools: list[str], build: list[str]) -> list[str]:
    """One pin per project: the build system's (dated) where both name one (wheel, say)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {canonicalize_name(Requirement(p).name): p for p in [*tools, *build]}
    return list(pins.values())


def resolution_dates(committed: str | None, python: str, resolve_before: str | None) -> list[str | None]:
    """The dates to resolve as of, in order (None: today's releases). A date the spec gives is used alone;
    else the commit's date, but not before the image's Python was released (pytest 6.1, of 2020, does
    not run on Python 3.11: a 2020 commit installed on 3.11 gets the releases of 3.11's day), then today."""
    if resolve_before:
        return [resolve_before]
    released = interpreter.RELEASED.get(python)
    if committed and released and committed[:10] < released:
        committed = f"{released}T00:00:00+00:00"
    return list(dict.fromkeys([committed, None]))


def commit_date(work_tree: Path) -> str | None:
    """The committer date of the work tree's HEAD (ISO 8601), to resolve requirements as of then."""
    return _git_out(work_tree, "log", "-1", "--format=%cI", "HEAD")


def project_version(work_tree: Path) -> str:
    """A version for ``SETUPTOOLS_SCM_PRETEND_VERSION``: the nearest tag when it is a version, else 0.0.0
    (the sandbox's copy has no ``.git``, so setuptools-scm cannot find one there)."""
    from packaging.version import InvalidVersion, Version

    tag = _git_out(work_tree, "describe", "--tags", "--abbrev=0", "HEAD") or ""
    try:
        return str(Version(tag.removeprefix("v")))
    except InvalidVersion:
        return "0.0.0"


def _git_out(work_tree: Path, *args: str) -> str | None:
    if not (work_tree / ".git").exists():
        return None
    proc = subprocess.run(
        ["git", "-C", str(work_tree), *args], capture_output=True, text=True, check=False, env=git_env()
    )
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out and len(out) < 200 else None
