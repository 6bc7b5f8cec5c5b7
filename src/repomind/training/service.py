"""The training queue's logic: enqueue when N new examples have arrived (or on demand), run a job once
per dataset hash, retry failures at most M times, register the adapter and apply the promotion rule.

Composition (settings → objects) happens in the CLI; this module reads no environment.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from repomind.log import get_logger
from repomind.store.artifacts import Artifacts
from repomind.store.jobs import Heartbeat
from repomind.store.ledger import Ledger
from repomind.store.training import TrainingJob, TrainingState
from repomind.training.config import TrainConfig, TrainingSettings
from repomind.training.dataset import DatasetInfo, build_dataset, load_info
from repomind.training.examples import Example
from repomind.training.ledger import JobSpec, TrainingLedger
from repomind.training.promotion import decide
from repomind.training.scope import SHARED, installation_of
from repomind.training.scrub import Scrubber
from repomind.training.store_source import (
    mark_consumed,
    store_examples,
    unconsumed_by_scope,
    unconsumed_count,
)
from repomind.training.trainer import Progress, Trainer, TrainRequest


class Notify(Protocol):
    """Announces a training job on the queue (``delay_s`` from now: a retry's backoff)."""

    def __call__(self, job_id: int, *, delay_s: float = 0.0) -> None: ...


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def publish_dataset(examples: Iterable[Example], datasets_dir: Path, **options: Any) -> DatasetInfo:
    """Build a dataset into ``datasets_dir/<hash12>`` (built aside, then moved: readers never see half)."""
    datasets_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=datasets_dir))
    try:
        info = build_dataset(examples, tmp, **options)
        final = datasets_dir / info.short_hash
        if final.exists():  # the same examples again: the same dataset
            return load_info(final)
        tmp.rename(final)
        info.path = final
        return info
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class TrainingService:
    store: Ledger
    ledger: TrainingLedger
    settings: TrainingSettings
    root: Path
    runs_dir: Path
    trainer: Trainer
    config: TrainConfig = field(default_factory=TrainConfig)
    secrets: list[str] = field(default_factory=list)
    notify: Notify | None = None
    owner: str = field(default_factory=default_owner)
    #: The runs' files in the shared store (what workers on any host uploaded); None: ``runs_dir`` only.
    artifacts: Artifacts | None = None

    def __post_init__(self) -> None:
        self.log: Any = get_logger("repomind.training")

    # -- datasets and enqueueing ------------------------------------------------------------------
    def dataset_from_store(
        self, progress: Callable[[int, int, str], None] | None = None, *, scope: str = SHARED
    ) -> DatasetInfo:
        """A dataset of ``scope``'s data: one installation's feedback and runs, or (``shared``, only
        when the operator shares) everything in the store."""
        installation = installation_of(scope)
        if installation is None and self.settings.scope != SHARED:
            raise ValueError(
                "training is kept per installation (REPOMIND_TRAINING_SCOPE=installation): "
                "name the installation whose data to use"
            )
        examples, counts = store_examples(
            self.store,
            self.runs_dir,
            include_unreviewed=self.settings.include_unreviewed,
            progress=progress,
            installation_id=installation,
            artifacts=self.artifacts,
        )
        description = (
            f"Scope: {scope}. "
            f"From the store's feedback ({counts['feedback']} pull requests: {counts['with_run']} joined "
            f"with their run, {counts['issue_only']} from the issue alone) and "
            f"{counts['unreviewed_runs']} unreviewed verified runs."
        )
        return publish_dataset(
            examples,
            self.root / "datasets",
            eval_fraction=self.settings.eval_fraction,
            scrubber=Scrubber(list(self.secrets)),
            description=description,
        )

    def enqueue(
        self, dataset: Path, *, base_model: str | None = None, reason: str = "demand", scope: str = SHARED
    ) -> TrainingJob:
        """A job for this dataset (the existing one if its hash was enqueued before), announced on the
        queue; its adapter will serve only ``scope``."""
        info = load_info(dataset)
        job, created = self.ledger.enqueue(
            JobSpec(
                dataset_hash=info.hash,
                dataset_path=str(dataset.resolve()),
                base_model=base_model or self.settings.base_model,
                reason=reason,
                max_attempts=self.settings.max_attempts,
                scope=scope,
            )
        )
        self.log.info(
            "training job", job=job.id, dataset=info.short_hash, created=created, reason=reason, scope=scope
        )
        if created and self.notify is not None:
            self.notify(job.id)
        return job

    def check(self) -> TrainingJob | None:
        """Enqueue a job for each scope where ``min_new_examples`` new feedback rows arrived (one per
        installation unless the operator shares); the last job enqueued, or None."""
        last: TrainingJob | None = None
        for scope, ids in sorted(unconsumed_by_scope(self.store, self.settings.scope).items()):
            if len(ids) < self.settings.min_new_examples:
                self.log.info(
                    "not enough new feedback",
                    scope=scope,
                    new=len(ids),
                    needed=self.settings.min_new_examples,
                )
                continue
            info = self.dataset_from_store(scope=scope)
            last = self.enqueue(info.path, reason="threshold", scope=scope)
            mark_consumed(self.store, ids=ids)
        return last

    # -- running ----------------------------------------------------------------------------------
    def run(self, job_id: int, progress: Progress | None = None) -> TrainingJob | None:
        """Run the job if it can be claimed; None when another worker has it or it is finished."""
        job = self.ledger.claim(job_id, self.owner, self.settings.lease_s)
        if job is None:
            return None
        log = self.log.bind(job=job.id, attempt=job.attempts)
        current = self.ledger.promoted(job.base_model, scope=job.scope)
        request = TrainRequest(
            dataset=Path(job.dataset_path),
            base_model=job.base_model,
            out=self.root / "jobs" / str(job.id),
            config=self.config,
            current_adapter=Path(current.path) if current is not None else None,
        )
        beat = Heartbeat(self.ledger.leases, job.id, self.owner, self.settings.lease_s, log=log)
        try:
            outcome = self.trainer.train(request, progress or (lambda line: log.info(line)))
        except Exception as exc:  # noqa: BLE001 - the worker's edge: any failure is recorded, then retried
            beat.stop()
            failed = self.ledger.fail(
                job.id, f"{type(exc).__name__}: {exc}", backoff_s=self.settings.retry_backoff_s
            )
            delay = self.ledger.leases.retry_in(failed)
            log.warning(
                "training failed",
                error=str(exc),
                state=str(failed.state),
                tries=failed.attempts,
                retry_in_s=delay,
            )
            if failed.state is TrainingState.QUEUED and self.notify is not None:
                if delay > 0:
                    self.notify(job.id, delay_s=delay)
                else:
                    self.notify(job.id)
            return failed
        finally:
            beat.stop()
        metrics = dict(outcome.metrics)
        adapter = self.ledger.register_adapter(
            job_id=job.id,
            dataset_hash=job.dataset_hash,
            base_model=job.base_model,
            path=str(outcome.adapter),
            metrics=metrics,
            scope=job.scope,
        )
        decision = decide(metrics, has_current=current is not None)
        self.ledger.decide(adapter.id, promote=decision.promote, decision=decision.reason)
        metrics["promotion"] = {
            "promoted": decision.promote,
            "reason": decision.reason,
            "version": adapter.version,
        }
        self.ledger.complete(job.id, metrics=metrics, adapter_id=adapter.id)
        log.info("training done", adapter=adapter.version, promoted=decision.promote, reason=decision.reason)
        return self.ledger.job(job.id)

    def run_pending(self, progress: Progress | None = None) -> list[TrainingJob]:
        """Run every runnable job once (a failed one that may retry is tried again on the next pass)."""
        done = []
        for job_id in self.ledger.runnable():
            job = self.run(job_id, progress)
            if job is not None:
                done.append(job)
        return done

    def status(self) -> dict[str, Any]:
        jobs = self.ledger.jobs()
        return {
            "new_feedback": unconsumed_count(self.store),
            "min_new_examples": self.settings.min_new_examples,
            "queued": [j.id for j in jobs if j.state is TrainingState.QUEUED],
            "jobs": [
                {
                    "id": j.id,
                    "state": str(j.state),
                    "dataset": j.dataset_hash[:12],
                    "base_model": j.base_model,
                    "scope": j.scope,
                    "reason": j.reason,
                    "attempts": j.attempts,
                    "max_attempts": j.max_attempts,
                    "error": j.error,
                    "adapter_id": j.adapter_id,
                }
                for j in jobs
            ],
            "adapters": [
                {
                    "version": a.version,
                    "dataset": a.dataset_hash[:12],
                    "base_model": a.base_model,
                    "scope": a.scope,
                    "path": a.path,
                    "promoted": a.promoted,
                    "decision": a.decision,
                    "loss": (a.metrics.get("adapter") or {}).get("loss"),
                    "exact_match": (a.metrics.get("adapter") or {}).get("exact_match"),
                    "quantized": a.metrics.get("quantized"),
                }
                for a in self.ledger.adapters()
            ],
        }
