"""One instance in the sandbox, as the official harness evaluates it.

An empty prediction is unresolved without running the tests (as the official harness), but only once
its environment is known to build here, so that gold, empty and model runs share one denominator.
Check out ``base_commit`` into a scratch clone (the given repository is never written to), apply the
specification's file edits, build (or reuse) the environment, apply the prediction, reset the test files
and apply ``test_patch``, run the specification's test command on the test files the test patch touches,
and grade the log with ``swebench``'s parser. With ``check_before``, the tests also run once with only the
test patch applied, to record that every FAIL_TO_PASS test fails before the fix.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repomind.errors import ConfigError, UnsupportedRepository
from repomind.eval.backtest import environment
from repomind.eval.backtest.environment import RepositorySpec
from repomind.eval.swebench import causes, grading, requirements
from repomind.eval.swebench.environments import Environments
from repomind.eval.swebench.jsonl import Prediction
from repomind.eval.swebench.specs import EvalSpec, Unavailable
from repomind.pipeline.instance import Instance
from repomind.pipeline.localise import gitread
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.solve.workspace import Workspace, run_git
from repomind.sandbox import Environment, EnvironmentSetupError, ImageNotFoundError, Limits, Sandbox
from repomind.sandbox.hostenv import git_env

RESOLVED, UNRESOLVED, UNAVAILABLE = "resolved", "unresolved", "unavailable"
VERDICT_FILE = "verdict.json"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    check_before: bool = False
    limits: Limits | None = None
    keep_work_trees: bool = False


class PatchError(Exception):
    """A patch that neither ``git apply`` nor ``patch --fuzz`` would apply."""


def apply_patch(work_tree: Path, patch: str, name: str) -> str:
    """Apply ``patch`` as the official harness tries it: ``git apply``, then ``patch --fuzz=5``."""
    path = work_tree.parent / f"{name}.diff"
    path.write_text(patch if patch.endswith("\n") else patch + "\n")
    attempts = (
        ["git", "apply", "--verbose", str(path)],
        ["patch", "--batch", "--fuzz=5", "-p1", "-i", str(path)],
    )
    errors = []
    for argv in attempts:
        proc = subprocess.run(argv, cwd=work_tree, capture_output=True, text=True, check=False, env=git_env())
        if proc.returncode == 0:
            return proc.stdout + proc.stderr
        errors.append(f"$ {argv[0]} {argv[1]}: {(proc.stderr or proc.stdout).strip()[-500:]}")
        run_git(work_tree, "checkout", "--", ".", check=False)
        run_git(work_tree, "clean", "-fdq", check=False)
    raise PatchError("\n".join(errors))


def missing_files(repo: Path, commit: str) -> list[str]:
    """Files of ``commit`` whose contents the repository lacks (a partial mirror or clone), by path."""
    try:
        return gitread.absent_files(repo, commit)
    except LocaliseError:
        return []  # the commit itself is missing: the checkout names that


def _environment_date(tree: Path, instance: Instance) -> str | None:
    """The date of the instance's environment commit (SWE-bench's per-version reference), else its base."""
    for commit in (instance.environment_setup_commit, instance.base_commit):
        if commit:
            date = run_git(tree, "show", "-s", "--format=%cs", commit, check=False).strip()
            if date:
                return date
    return None


def test_command(instance: Instance, spec: EvalSpec) -> str:
    """The specification's test command on the test files the test patch touches (as ``swebench``)."""
    from swebench.harness.test_spec.python import get_test_directives

    directives = get_test_directives(instance.as_swebench())
    return "\n".join([*spec.eval_commands, " ".join([spec.test_cmd, *directives])])


def _test_files(instance: Instance) -> list[str]:
    from swebench.harness.test_spec.python import get_modified_files

    files: list[str] = get_modified_files(instance.test_patch)
    return files


def _reset_tests(work_tree: Path, instance: Instance) -> None:
    for path in _test_files(instance):
        run_git(work_tree, "checkout", "HEAD", "--", path, check=False)


def _run_tests(
    sandbox: Sandbox, env: Environment, work_tree: Path, instance: Instance, spec: EvalSpec, opts: Options
) -> tuple[dict[str, str], str, float]:
    start = time.monotonic()
    result = sandbox.run(env, work_tree, test_command(instance, spec), limits=opts.limits, capture_diff=False)
    log = f"$ {test_command(instance, spec)}\n# exit {result.exit_code} ({result.outcome})\n{result.output}"
    if result.notes:
        log += "\n" + "\n".join(result.notes)
    status = grading.parse_log(
        spec.parser_repo or instance.repo, result.output, instance_id=instance.instance_id
    )
    return status, log, time.monotonic() - start


def evaluate(
    instance: Instance,
    prediction: Prediction,
    repo: Path,
    spec: EvalSpec | Unavailable | RepositorySpec,
    *,
    sandbox: Sandbox,
    environments: Environments,
    out_dir: Path,
    scratch: Path,
    opts: Options = Options(),
    log: Log = lambda _m: None,
) -> dict[str, Any]:
    """Evaluate one prediction; write its logs and ``verdict.json`` under ``out_dir``; return the verdict."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    record: dict[str, Any] = {"instance_id": instance.instance_id, "repo": instance.repo}
    record["version"] = instance.version
    (out_dir / "prediction.diff").write_text(prediction.patch)

    def finish(verdict: str, reason: str, **extra: Any) -> dict[str, Any]:
        record.update(extra, verdict=verdict, reason=reason, total_s=round(time.monotonic() - start, 2))
        (out_dir / VERDICT_FILE).write_text(json.dumps(record, indent=1))
        return record

    if isinstance(spec, Unavailable):
        return finish(UNAVAILABLE, spec.reason, cause=spec.cause)
    record["environment"] = environment.environment_kind(spec)
    if isinstance(spec, EvalSpec):
        record["python"] = spec.python
        if spec.notes:
            record["notes"] = list(spec.notes)
    lacking = missing_files(repo, instance.base_commit)
    if lacking:
        shown = ", ".join(lacking[:3]) + (f" and {len(lacking) - 3} more" if len(lacking) > 3 else "")
        return finish(
            UNAVAILABLE,
            f"the repository lacks the contents of {len(lacking)} "
            f"file{'s' if len(lacking) > 1 else ''} at base_commit "
            f"(a partial mirror): {shown}",
            cause=causes.MIRROR,
        )
    shutil.rmtree(scratch / instance.instance_id, ignore_errors=True)  # left by an interrupted run
    workspace = Workspace.create(str(repo), instance.base_commit, scratch / instance.instance_id)
    try:
        tree = workspace.work_tree("tree")
        if isinstance(spec, RepositorySpec):
            log(f"{instance.instance_id}: {spec.reason}; environment the repository's way")
            try:
                bot = environment.prepare(sandbox, tree, instance.repo)
            except (EnvironmentSetupError, ImageNotFoundError, ConfigError, UnsupportedRepository) as exc:
                first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                reason = f"environment could not be built the repository's way: {first}"
                return finish(UNAVAILABLE, reason, cause=causes.classify(str(exc)))
            env = bot.env

            def run_tests(tree: Path) -> tuple[dict[str, str], str, float]:
                files = environment.test_files(bot.toolchain, _test_files(instance), tree)
                ran = environment.run(sandbox, bot, tree, files)
                text = f"$ {' '.join(ran.argv)}\n# exit {ran.exit_code} ({ran.outcome})\n{ran.log}"
                return environment.swebench_status(ran.results), text, ran.seconds
        else:
            env_or_reason = _specification_environment(instance, spec, tree, environments, out_dir, log)
            if isinstance(env_or_reason, tuple):
                reason, cause = env_or_reason
                return finish(UNAVAILABLE, reason, cause=cause)
            env, eval_spec = env_or_reason, spec

            def run_tests(tree: Path) -> tuple[dict[str, str], str, float]:
                return _run_tests(sandbox, env, tree, instance, eval_spec, opts)

        record.update(env_image=env.image, env_cached=env.cached, setup_s=round(env.setup_seconds, 2))
        if opts.check_before:
            _reset_tests(tree, instance)
            apply_patch(tree, instance.test_patch, "test_patch")
            status, text, seconds = run_tests(tree)
            (out_dir / "test_before.log").write_text(text)
            failing, passing = grading.failing_before(status, instance.fail_to_pass)
            record.update(before_s=round(seconds, 2), f2p_fail_before=len(failing), f2p_pass_before=passing)
            run_git(tree, "reset", "--quiet", "--hard", "HEAD")
            run_git(tree, "clean", "-fdq")
        if not prediction.patch.strip():
            return finish(UNRESOLVED, "the prediction is empty")
        try:
            apply_patch(tree, prediction.patch, "prediction")
        except PatchError as exc:
            (out_dir / "apply.log").write_text(str(exc))
            return finish(
                UNRESOLVED, "the prediction does not apply (git apply and patch --fuzz=5 refused it)"
            )
        _reset_tests(tree, instance)
        try:
            apply_patch(tree, instance.test_patch, "test_patch")
        except PatchError as exc:
            (out_dir / "apply.log").write_text(str(exc))
            return finish(UNRESOLVED, "the test patch does not apply on top of the prediction")
        status, text, seconds = run_tests(tree)
        (out_dir / "test.log").write_text(text)
        graded = grading.grade(status, instance.fail_to_pass, instance.pass_to_pass)
        (out_dir / "grade.json").write_text(json.dumps(graded.to_json(), indent=1))
        record.update(test_s=round(seconds, 2))
        return finish(RESOLVED if graded.resolved else UNRESOLVED, graded.summary())
    finally:
        if not opts.keep_work_trees:
            workspace.cleanup()


def _specification_environment(
    instance: Instance, spec: EvalSpec, tree: Path, environments: Environments, out_dir: Path, log: Log
) -> Environment | tuple[str, str]:
    """The environment the specification describes, or why it cannot be had here and the cause
    (:mod:`repomind.eval.swebench.causes`)."""
    for edit in spec.host_edits:  # swebench's pre-install sed edits: data edits, not repository code
        subprocess.run(["bash", "-c", edit], cwd=tree, capture_output=True, check=False, env=git_env())
    run_git(tree, "commit", "--quiet", "--allow-empty", "-am", "swebench pre-install edits")
    file_requirements: list[str] = []
    if spec.requirements_file:
        commit = instance.environment_setup_commit or instance.base_commit
        found = requirements.write_requirements(tree, instance.repo, commit)
        if found is None:
            return f"no requirements file of {instance.repo} at {commit[:12]}", causes.OTHER
        file_requirements = found
    log(f"{instance.instance_id}: environment for {spec.repo} {spec.version} (Python {spec.python})")
    as_of = _environment_date(tree, instance)
    prepared = environments.prepare(tree, spec, log, as_of=as_of, extra=file_requirements)
    (out_dir / "setup.log").write_text(prepared.log)
    if prepared.env is None:
        reason = f"environment could not be built: {prepared.reason}"
        return reason, prepared.cause or causes.classify(prepared.reason)
    return prepared.env
