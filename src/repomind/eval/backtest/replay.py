"""The replay: the bot on each backtest task at its base commit, set up as the repository is set up today.

Each task runs as the repository's CURRENT default-branch configuration sets the bot up
(``.github/repomind.yml`` at the clone's HEAD, resolved by :func:`repomind.compose.resolve_local` with the
command's flags over it, as the bot resolves it), on a clone that holds only the history up to the
task's base commit (:func:`hidden_clone`): the localiser's history signal and ``git log`` cannot see the
fix or anything after it. The run is composed as ``eval swebench --model`` composes it
(:func:`repomind.compose.build_run`, the strategy the flags or the config name) and graded by
``eval swebench``'s own batch runner and grading; the report is :mod:`repomind.eval.backtest.report`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repomind.pipeline.instance import Instance, save
from repomind.pipeline.solve.workspace import run_git

if TYPE_CHECKING:
    from repomind.compose import Boundaries, RunConfig
    from repomind.eval.swebench.batch import Predict
    from repomind.eval.swebench.specs import SpecLookup
    from repomind.pipeline.solve.request import SolveReport
    from repomind.sandbox.protocol import Sandbox
    from repomind.settings import Settings

#: ``--model oracle``: the gold patch through the bot's own edit and test path.
ORACLE = "oracle"
#: The oracle's step limit: three steps per hunk of a fix, up to the agent's own most (200).
ORACLE_MAX_STEPS = 200
#: Builds the task instances: (candidates, clone, repo=, sandbox=, limit=, cache_dir=, progress=).
TaskBuilder = Callable[..., list[Instance]]
RunSolve = Callable[[Instance, Path, Path], "SolveReport"]


def default_builder() -> TaskBuilder:
    """``repomind.eval.backtest.tasks.build_tasks``, imported when a replay builds its tasks."""
    from repomind.eval.backtest import tasks

    builder: TaskBuilder = tasks.build_tasks
    return builder


def hidden_clone(clone: Path, commit: str, dest: Path) -> Path:
    """A fresh bare repository at ``dest`` holding only ``commit`` and its ancestors (as ``main``, its
    HEAD): nothing after the commit is reachable, or even present."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_git(dest.parent, "init", "--quiet", "--bare", str(dest))
    run_git(dest, "fetch", "--quiet", "--no-tags", str(clone.resolve()), f"{commit}:refs/heads/main")
    run_git(dest, "symbolic-ref", "HEAD", "refs/heads/main")
    return dest


def current_config(settings: Settings, clone: Path, flags: Any) -> RunConfig:
    """The run configuration the bot would use today: ``.github/repomind.yml`` at the clone's HEAD (its
    default branch) under the flags, over the server's settings."""
    from repomind.compose import resolve_local

    return resolve_local(settings, str(clone), "HEAD", flags)


def replay_solve(
    settings: Settings,
    config: RunConfig,
    *,
    sandbox: Sandbox,
    boundaries_for: Callable[[Instance], Boundaries],
    scratch: Path,
) -> RunSolve:
    """``solve`` on one task as :func:`repomind.eval.swebench.model.composed_solve` composes it, but with
    ``config`` (today's configuration) instead of the config at the task's base, and on a
    :func:`hidden_clone` of the repository at the base. An unknown strategy stops here, before any task."""
    from repomind.compose import build_run, load_embedder
    from repomind.pipeline.strategies import strategy_for

    strategy_for(config.strategy)
    embedder = load_embedder(settings)

    def one(instance: Instance, repo: Path, run_dir: Path) -> SolveReport:
        hidden = hidden_clone(repo, instance.base_commit, scratch / instance.instance_id / "history.git")
        try:
            head = run_git(hidden, "rev-parse", "HEAD").strip()
            visible = int(run_git(hidden, "rev-list", "--count", "--all").strip() or 0)
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir.parent / "history.json").write_text(json.dumps({"head": head, "commits": visible}))
            parts = build_run(
                settings,
                config,
                repo=instance.repo,
                boundaries=boundaries_for(instance),
                embedder=embedder,
                sandbox=sandbox,
            )
            request = parts.request(
                str(hidden), instance.problem_statement, run_dir, rev=instance.base_commit
            )
            return parts.strategy.solve(
                request, model=parts.model, sandbox=parts.sandbox, localiser=parts.localiser
            )
        finally:
            shutil.rmtree(hidden.parent, ignore_errors=True)

    return one


def predictor(model_name: str, run_solve: RunSolve) -> Predict:
    """``eval swebench``'s predictor over the replay's solve, recording what the report needs: the
    localised set, the steps, the seconds and what the solve could see of the history."""
    from repomind.eval.swebench.model import solve_predictor

    predict = solve_predictor(model_name, run_solve)

    def timed(instance: Instance, repo: Path, directory: Path) -> tuple[Any, dict[str, Any]]:
        start = time.monotonic()
        prediction, extra = predict(instance, repo, directory)
        extra = {**extra, "solve_s": round(time.monotonic() - start, 2)}
        solved = directory / "solve_report.json"
        data = json.loads(solved.read_text()) if solved.is_file() else {}
        localisation = data.get("localisation") or {}
        ranked = [c if isinstance(c, str) else c.get("path") for c in localisation.get("candidates", [])]
        extra["localised"] = list(localisation.get("set") or ranked[:10])
        extra["steps"] = data.get("steps")
        extra["strategy"] = data.get("strategy")
        extra["max_attempts"] = data.get("max_attempts")
        history = directory / "history.json"
        if history.is_file():
            extra["history"] = json.loads(history.read_text())
        return prediction, extra

    return timed


def replay_flags(model: str | None, api_base: str | None, strategy: str | None) -> Any:
    """The replay's flags (:class:`repomind.compose.Overrides`). The oracle takes three steps per hunk of
    a fix (search, view, edit): a fix of 14 hunks would not fit the agent's 40 steps, and the ceiling
    would measure the step limit, not the environment, so it gets :data:`ORACLE_MAX_STEPS`."""
    from repomind.compose import Overrides

    steps = ORACLE_MAX_STEPS if model == ORACLE else None
    return Overrides(model=model, api_base=api_base, strategy=strategy, max_steps=steps)


def oracle_boundaries(instance: Instance) -> Boundaries:
    """A run whose model is :class:`repomind.eval.oracle.OracleAgentModel` of the task's gold patch."""
    from repomind.compose import Boundaries
    from repomind.eval.oracle import OracleAgentModel

    def oracle(name: str, **_kw: Any) -> OracleAgentModel:
        return OracleAgentModel(instance.patch, model=name)

    return Boundaries(model=oracle)


@dataclass
class Replay:
    """One replay's inputs: the clone (its current configuration), where it writes, how runs are made."""

    clone: Path
    out: Path
    settings: Settings
    flags: Any  # repomind.compose.Overrides
    sandbox: Sandbox
    boundaries_for: Callable[[Instance], Boundaries]
    spec_lookup: SpecLookup | None = None

    def run(
        self,
        tasks: list[Instance],
        *,
        progress: Callable[[int, int, str], None] = lambda _d, _t, _l: None,
        warn: Callable[[str], None] = lambda _m: None,
    ) -> dict[str, Any]:
        """Write ``tasks.jsonl``, solve and grade every task, write ``predictions.jsonl``, ``report.json``
        and the plots; return the report."""
        from repomind.eval.backtest import report
        from repomind.eval.swebench import batch

        out = self.out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        save(list(tasks), out / "tasks.jsonl")
        repos = out / "repos"
        repos.mkdir(exist_ok=True)
        for name in {t.repo for t in tasks}:
            link = repos / name.replace("/", "__")
            if not link.exists():
                link.symlink_to(self.clone.resolve())
        config = current_config(self.settings, self.clone, self.flags)
        model = config.model or "none"
        one = replay_solve(
            self.settings,
            config,
            sandbox=self.sandbox,
            boundaries_for=self.boundaries_for,
            scratch=out / "hidden",
        )
        run_config = batch.run_config(
            self.settings, self.sandbox, repos=repos, out=out, lookup=self.spec_lookup
        )
        result = batch.run(
            tasks, predictor(model, one), self.sandbox, run_config, progress=progress, warn=warn
        )
        shutil.rmtree(out / "hidden", ignore_errors=True)
        meta = {"repo": str(self.clone), "model": model, "strategy": config.strategy, "tasks": len(tasks)}
        return report.write(out, tasks, result.records, meta)


def build(
    candidates: Iterable[Any],
    clone: Path,
    *,
    repo: str,
    sandbox: Sandbox,
    limit: int | None,
    cache_dir: Path,
    builder: TaskBuilder | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Instance]:
    """The tasks of ``candidates`` (:func:`default_builder` unless one is given), cached in ``cache_dir``."""
    build_tasks = builder or default_builder()
    extra: dict[str, Any] = {} if progress is None else {"progress": progress}
    return build_tasks(
        candidates, clone, repo=repo, sandbox=sandbox, limit=limit, cache_dir=cache_dir, **extra
    )
