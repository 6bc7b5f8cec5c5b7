"""The fake of the job queue (:class:`repomind.bot.queue.JobQueue`): records what was enqueued."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeQueue:
    """:class:`repomind.bot.queue.JobQueue` that records what was enqueued (run nothing by itself)."""

    deliveries: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    training: list[int] = field(default_factory=list)
    purges: list[tuple[int, list[str]]] = field(default_factory=list)

    def enqueue_delivery(self, delivery_id: str, *, delay_s: float = 0.0) -> None:
        self.deliveries.append(delivery_id)
        self.delays.append(delay_s)

    def enqueue_job(self, job_id: int) -> None:
        self.jobs.append(job_id)

    def enqueue_training(self, feedback_id: int) -> None:
        self.training.append(feedback_id)

    def enqueue_purge(self, installation_id: int, repos: list[str]) -> None:
        self.purges.append((installation_id, list(repos)))
