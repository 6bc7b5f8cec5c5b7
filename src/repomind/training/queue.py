"""The training side of the job queue (:mod:`repomind.store.queue`): messages carry only a job id.

The bot's feedback capture sends ``training_ready`` on the training lane for every closed PR;
:class:`TrainingWorker` answers it on the training worker by counting new feedback and enqueueing a job
when there is enough. ``train_job`` runs one job; the store's leased-job engine decides whether there is
anything left to do, so duplicates are harmless.
"""

from __future__ import annotations

from repomind.store.queue import Handlers, Kind, Queue
from repomind.training.service import Notify, TrainingService


def announcer(queue: Queue) -> Notify:
    """What the service calls to announce a job on the queue (``delay_s`` later: a retry's backoff)."""

    def notify(job_id: int, *, delay_s: float = 0.0) -> None:
        queue.enqueue(Kind.TRAIN_JOB, job_id, delay_s=delay_s)

    return notify


class TrainingWorker:
    """``repomind worker --queue training``: a GPU host needs the store and the queue, not the GitHub
    App's credentials."""

    def __init__(self, service: TrainingService, queue: Queue) -> None:
        self.service = service
        self.queue = queue

    def handlers(self) -> Handlers:
        return Handlers({Kind.TRAIN_JOB: self.run, Kind.TRAINING_READY: self.training_ready})

    def run(self, job_id: int) -> None:
        self.service.run(job_id)

    def training_ready(self, feedback_id: int) -> None:
        self.service.check()  # a new job is announced on the queue by the service itself

    def recover(self) -> None:
        """At start: enqueue what is runnable (queued jobs, running ones whose worker died), then check."""
        for job_id in self.service.ledger.runnable():
            self.queue.enqueue(Kind.TRAIN_JOB, job_id)
        self.training_ready(0)
