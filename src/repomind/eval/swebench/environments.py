"""Evaluation environments: the sandbox's cached environment per repository and version, with the
requirements that the wheelhouse lacked learnt from pip's own errors and remembered for next time.

The repository's metadata is read statically on the host (its code never runs here), so an extra named
only in code (``EXTRAS["dev"] = ...``) is missed at first; pip inside the sandbox then says
``No matching distribution found for X``, X is added to the wheelhouse and the build is retried. What was
learnt is stored (JSON beside the caches), so that the next run's environment has the same cache key.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from repomind.eval.swebench import causes
from repomind.eval.swebench.specs import EvalSpec
from repomind.sandbox import (
    Environment,
    EnvironmentSetupError,
    EnvironmentSpec,
    ImageNotFoundError,
    Sandbox,
    repofs,
)
from repomind.sandbox.setup_plan import setup_py_only

MAX_LEARNT_ROUNDS = 6
_MISSING = re.compile(r"No matching distribution found for ([^\s;]+)")
_CONFLICT = re.compile(r"ResolutionImpossible|conflicting dependencies|No solution found")


@dataclass(frozen=True)
class Prepared:
    env: Environment | None
    reason: str  # why there is no environment ("" when there is one)
    log: str
    cause: str = ""  # the kind of cause (:mod:`repomind.eval.swebench.causes`) when there is none


def missing_requirement(output: str) -> str | None:
    """The requirement pip could not find in the wheelhouse, from its error output."""
    found = _MISSING.findall(output)
    return found[-1] if found else None


def with_learnt(steps: tuple[tuple[str, ...], ...], learnt: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """The install steps with the learnt requirements resolved together with the last step's (they are
    what the project's install, after every step, lacked)."""
    if not learnt:
        return steps
    last = steps[-1] if steps else ()
    return (*steps[:-1], tuple(dict.fromkeys((*last, *learnt))))


def uses_setuptools_scm(work_tree: Path) -> bool:
    """Whether the project's build reads its version from git (its files read as text, nothing run)."""
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        text = repofs.read_text_or_none(work_tree, name)  # never through a symlink
        if text is not None and re.search(r"setuptools[_-]scm|use_scm_version", text):
            return True
    return False


def _failure_reason(exc: EnvironmentSetupError) -> str:
    errors = [ln.strip() for ln in exc.output.splitlines() if "error" in ln.lower() and ln.strip()]
    detail = f": {errors[-1][:300]}" if errors else ""
    return f"{exc.message.splitlines()[0][:300]}{detail}"


class Environments:
    """Builds (or finds cached) environments; one build at a time per repository and version."""

    def __init__(self, sandbox: Sandbox, store: Path | None = None) -> None:
        self.sandbox = sandbox
        self.store = store
        self._lock = threading.Lock()
        self._keys: dict[str, threading.Lock] = {}
        self._learnt: dict[str, list[str]] = {}
        if store is not None and store.is_file():
            self._learnt = {k: list(v) for k, v in json.loads(store.read_text()).items()}

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._keys.setdefault(key, threading.Lock())

    def _remember(self, key: str, requirement: str) -> None:
        with self._lock:
            self._learnt.setdefault(key, []).append(requirement)
            if self.store is not None:
                self.store.parent.mkdir(parents=True, exist_ok=True)
                self.store.write_text(json.dumps(self._learnt, indent=1, sort_keys=True))

    def learnt(self, spec: EvalSpec) -> list[str]:
        with self._lock:
            return list(self._learnt.get(f"{spec.repo}@{spec.version}", []))

    def prepare(
        self,
        work_tree: Path,
        spec: EvalSpec,
        log: Callable[[str], None],
        *,
        as_of: str | None = None,
        extra: Sequence[str] = (),
    ) -> Prepared:
        key = f"{spec.repo}@{spec.version}"
        setup = spec.setup_command
        if uses_setuptools_scm(work_tree):
            # The sandbox copies the tree without .git, so setuptools-scm cannot read the version from it.
            version = ".".join([*spec.version.split("."), "0", "0"][:3])
            setup = f"export SETUPTOOLS_SCM_PRETEND_VERSION={version}\n{setup}"
        if setup_py_only(work_tree):
            setup = f"export PIP_CONFIG_SETTINGS=editable_mode=compat\n{setup}"
        logs: list[str] = []
        before: str | None = None
        with self._key_lock(key):
            for _round in range(MAX_LEARNT_ROUNDS + 1):
                learnt = self.learnt(spec)
                env_spec = EnvironmentSpec(
                    repo_name=spec.repo,
                    setup_command=setup,
                    python=spec.python,
                    # Each install step resolved on its own, as the setup command installs them one
                    # after another; what was learnt with the last (the project's install needs it).
                    requirement_steps=with_learnt(spec.requirement_steps(extra), learnt),
                    keep_work_tree=True,
                    requirement_files=(),  # the spec says which requirement files, if any
                    compiler=spec.compiler,
                    resolve_before=before,
                )
                try:
                    env = self.sandbox.prepare(work_tree, env_spec)
                except ImageNotFoundError as exc:
                    return Prepared(None, exc.message, "\n".join(logs), causes.OTHER)
                except EnvironmentSetupError as exc:
                    logs.append(str(exc))
                    wanted = missing_requirement(exc.output or exc.message)
                    if wanted is None and before is None and as_of and _CONFLICT.search(exc.output):
                        # Today's releases of the project's open-ended requirements do not fit together
                        # (or with the project): resolve them as they were at the environment's date.
                        log(f"{key}: conflicting requirements; resolving them as of {as_of}")
                        before = as_of
                        continue
                    if wanted is None or wanted in learnt:
                        cause = causes.classify(f"{exc.message}\n{exc.output}")
                        return Prepared(None, _failure_reason(exc), "\n".join(logs), cause)
                    log(f"{key}: the wheelhouse lacked {wanted}; adding it and building again")
                    self._remember(key, wanted)
                    continue
                logs.append(env.log)
                return Prepared(env, "", "\n".join(logs))
        reason = f"still missing requirements after {MAX_LEARNT_ROUNDS} rounds"
        return Prepared(None, reason, "\n".join(logs), causes.RESOLUTION)
