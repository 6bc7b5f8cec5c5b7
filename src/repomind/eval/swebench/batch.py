"""All instances: skip missing repositories, resume finished ones, run the rest on N workers.

Each finished instance has ``instances/<id>/verdict.json``: an interrupted run loses nothing, and
``resume`` takes those verdicts as they are.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repomind.eval.backtest import environment
from repomind.eval.swebench import causes, harness, specs
from repomind.eval.swebench.environments import Environments
from repomind.eval.swebench.jsonl import Prediction, write_predictions
from repomind.pipeline.instance import Instance, repo_path
from repomind.sandbox import Sandbox

#: (instance, repository, instance directory) → the prediction and what to record about producing it.
Predict = Callable[[Instance, Path, Path], tuple[Prediction, dict[str, Any]]]
Progress = Callable[[int, int, str], None]
#: Evaluations retried when Docker fails under them (containers removed by another process).
DOCKER_RETRIES = 2


@dataclass
class RunConfig:
    repos: Path
    out: Path
    available_pythons: tuple[str, ...]
    spec_lookup: specs.SpecLookup = specs.swebench_specs
    python_fallback: bool = False
    workers: int = 1
    resume: bool = False
    opts: harness.Options = field(default_factory=harness.Options)
    env_store: Path | None = None


@dataclass
class RunResult:
    records: list[dict[str, Any]]
    skipped: list[dict[str, str]]
    predictions: list[Prediction]


def max_workers(requested: int) -> int:
    return max(1, min(requested, os.cpu_count() or 1))


def instance_dir(out: Path, instance_id: str) -> Path:
    return out / "instances" / instance_id


def finished(out: Path, instance_id: str) -> dict[str, Any] | None:
    path = instance_dir(out, instance_id) / harness.VERDICT_FILE
    if not path.is_file():
        return None
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except ValueError:
        return None  # a torn write: evaluate it again
    return record


def run(
    instances: list[Instance],
    predict: Predict,
    sandbox: Sandbox,
    config: RunConfig,
    *,
    progress: Progress = lambda _d, _t, _l: None,
    warn: Callable[[str], None] = lambda _m: None,
    log: Callable[[str], None] = lambda _m: None,
) -> RunResult:
    config.out.mkdir(parents=True, exist_ok=True)
    environments = Environments(sandbox, config.env_store)
    skipped: list[dict[str, str]] = []
    todo: list[tuple[Instance, Path]] = []
    records: dict[str, dict[str, Any]] = {}
    predictions: dict[str, Prediction] = {}
    for instance in instances:
        repo = repo_path(config.repos, instance.repo)
        if repo is None:
            warn(f"{instance.instance_id}: {instance.repo} is not in {config.repos}; skipped")
            skipped.append({"instance_id": instance.instance_id, "reason": f"no repository {instance.repo}"})
            continue
        done = finished(config.out, instance.instance_id) if config.resume else None
        if done is not None:
            records[instance.instance_id] = done
            patch_file = instance_dir(config.out, instance.instance_id) / "prediction.diff"
            patch = patch_file.read_text() if patch_file.is_file() else ""
            predictions[instance.instance_id] = Prediction(instance.instance_id, done.get("model", ""), patch)
        else:
            todo.append((instance, repo))
    total, lock = len(instances) - len(skipped), threading.Lock()
    count = [len(records)]
    progress(count[0], total, "")

    def one(instance: Instance, repo: Path) -> dict[str, Any]:
        directory = instance_dir(config.out, instance.instance_id)
        try:
            prediction, extra = predict(instance, repo, directory)
        except Exception as exc:  # noqa: BLE001  (the per-instance edge: a crashed solve predicts nothing)
            prediction = Prediction(instance.instance_id, "error", "")
            extra = {"prediction_error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        with lock:
            predictions[instance.instance_id] = prediction
        raw = config.spec_lookup(instance.repo, instance.version)
        spec = environment.choose(
            instance.repo,
            instance.version,
            raw,
            available_pythons=config.available_pythons,
            python_fallback=config.python_fallback,
        )
        for attempt in range(1, DOCKER_RETRIES + 2):
            try:
                return _evaluate(instance, prediction, repo, spec, directory, extra)
            except Exception as exc:  # noqa: BLE001  (the per-instance edge: one failure must not lose the run)
                retry = type(exc).__module__.startswith(("docker", "requests")) and attempt <= DOCKER_RETRIES
                if retry:  # a container removed under us (another process pruning the daemon): again
                    log(f"{instance.instance_id}: {type(exc).__name__}; evaluating again")
                    continue
                first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                record = {
                    "instance_id": instance.instance_id,
                    "repo": instance.repo,
                    "version": instance.version,
                }
                record.update(verdict="unavailable", model=prediction.model, cause=causes.OTHER)
                record["reason"] = f"evaluation could not run here: {type(exc).__name__}: {first}"
                (directory / harness.VERDICT_FILE).write_text(json.dumps(record, indent=1))
                return record
        raise AssertionError("unreachable")

    def _evaluate(
        instance: Instance,
        prediction: Prediction,
        repo: Path,
        spec: specs.EvalSpec | specs.Unavailable | environment.RepositorySpec,
        directory: Path,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        record = harness.evaluate(
            instance,
            prediction,
            repo,
            spec,
            sandbox=sandbox,
            environments=environments,
            out_dir=directory,
            scratch=config.out / "scratch",
            opts=config.opts,
            log=log,
        )
        record.update(extra, model=prediction.model)
        (directory / harness.VERDICT_FILE).write_text(json.dumps(record, indent=1))
        return record

    with ThreadPoolExecutor(max_workers=max_workers(config.workers)) as pool:
        futures = {pool.submit(one, i, r): i for i, r in todo}
        for future in as_completed(futures):
            record = future.result()
            with lock:
                records[record["instance_id"]] = record
                count[0] += 1
            progress(count[0] - 1, total, f"{record['instance_id']}: {record['verdict']}")
    ordered = [i.instance_id for i in instances]
    write_predictions(config.out / "predictions.jsonl", [predictions[i] for i in ordered if i in predictions])
    return RunResult([records[i] for i in ordered if i in records], skipped, list(predictions.values()))


def available_pythons(box: Any) -> tuple[str, ...]:
    """The Python versions whose sandbox base image exists on the sandbox's Docker daemon (none for a
    sandbox without one, such as the fake)."""
    from repomind.sandbox.images import PYTHON_SUITES, base_image_tag, find_image

    client = getattr(box, "client", None)
    if client is None:
        return ()
    return tuple(v for v in PYTHON_SUITES if find_image(client, base_image_tag(v)) is not None)


def run_config(
    settings: Any,
    box: Any,
    *,
    repos: Path,
    out: Path,
    lookup: specs.SpecLookup | None = None,
    python_fallback: bool = False,
    workers: int = 1,
    resume: bool = False,
    check_before: bool = False,
) -> RunConfig:
    """How ``eval swebench`` runs its instances here: the Pythons the sandbox has, the specifications,
    the sandbox limits and the learnt requirements; ``bench/agent_oracle.py`` and ``repomind backtest``
    run with the same."""
    from repomind.compose.run import limits

    return RunConfig(
        repos=repos,
        out=out,
        available_pythons=available_pythons(box),
        spec_lookup=lookup or specs.swebench_specs,
        python_fallback=python_fallback,
        workers=workers,
        resume=resume,
        opts=harness.Options(check_before=check_before, limits=limits(settings)),
        env_store=settings.data_dir / "swebench" / "learnt-requirements.json",
    )
