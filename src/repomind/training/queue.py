"""The training queue on huey (SQLite in the data dir, or Redis): messages carry only a job id.

The bot's feedback capture already sends ``repomind.training_ready`` on this queue for every closed PR
(:meth:`repomind.bot.queue.HueyQueue.enqueue_training`); :class:`TrainingTarget` answers it on the
training worker by counting new feedback and enqueueing a job when there is enough. ``repomind.train_job``
runs one job; the ledger decides whether there is anything left to do, so duplicates are harmless.
"""

from __future__ import annotations

from typing import Any

from huey import Huey

from repomind.training.service import TrainingService

TRAIN_TASK = "repomind.train_job"


class TrainingQueue:
    """``train_job`` messages on the training huey; call :meth:`attach` to make this process consume them."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._service: TrainingService | None = None

        @huey.task(name=TRAIN_TASK)  # type: ignore[untyped-decorator]
        def train_job(job_id: int) -> None:
            if self._service is None:
                raise RuntimeError("this process enqueues only: no training service is attached")
            self._service.run(job_id)

        self._task: Any = train_job

    def attach(self, service: TrainingService) -> None:
        self._service = service

    def enqueue(self, job_id: int) -> None:
        self._task(job_id)

    def pending(self) -> int:
        return int(self.huey.pending_count())


class TrainingTarget:
    """:class:`repomind.bot.queue.TaskTarget` for ``repomind worker --queue training``: a GPU host needs
    the store and the queue, not the GitHub App's credentials."""

    def __init__(self, service: TrainingService, queue: TrainingQueue) -> None:
        self.service = service
        self.queue = queue

    def training_ready(self, feedback_id: int) -> None:
        self.service.check()  # a new job is announced on the queue by the service itself

    def recover(self) -> None:
        """At start: enqueue what is runnable (queued jobs, running ones whose worker died), then check."""
        for job_id in self.service.ledger.runnable():
            self.queue.enqueue(job_id)
        self.training_ready(0)

    def dispatch(self, delivery_id: str) -> None:
        raise RuntimeError("the training worker consumes only the training queue")

    def run_job(self, job_id: int) -> None:
        raise RuntimeError("the training worker consumes only the training queue")

    def purge(self, installation_id: int, repos: list[str]) -> None:
        raise RuntimeError("the training worker consumes only the training queue")

    def sweep(self) -> None:
        return None
