"""The training queue: enqueue/claim/complete/fail, retries with backoff, idempotency by dataset hash, the
threshold, promotion, and the queue messages that carry job ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from repomind.store import TrainingState
from repomind.store.queue import Kind, memory_queue
from repomind.testing.training import FakeTrainer
from repomind.training.config import TrainingSettings
from repomind.training.dataset import build_dataset
from repomind.training.examples import Supervised
from repomind.training.ledger import JobSpec, TrainingLedger
from repomind.training.queue import TrainingWorker, announcer
from repomind.training.service import TrainingService

from .helpers import BOT_DIFF, add_feedback, store_at


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _dataset(root: Path, n: int = 4, tag: str = "") -> Path:
    examples = [
        Supervised(
            f"o/r#{i}{tag}",
            "test",
            [{"role": "user", "content": f"fix {i}{tag}"}, {"role": "assistant", "content": "done"}],
        )
        for i in range(n)
    ]
    out = root / f"ds{tag}"
    build_dataset(examples, out)
    return out


def _service(tmp_path: Path, trainer: FakeTrainer, **settings: object) -> TrainingService:
    store = store_at(tmp_path)
    return TrainingService(
        store=store,
        ledger=TrainingLedger(store),
        settings=TrainingSettings(**{"retry_backoff_s": 0, **settings}),  # type: ignore[arg-type]
        root=tmp_path / "training",
        runs_dir=tmp_path / "runs",
        trainer=trainer,
    )


def test_enqueue_claim_complete_and_idempotency(tmp_path: Path) -> None:
    clock = Clock()
    ledger = TrainingLedger(store_at(tmp_path), clock=clock)
    spec = JobSpec("h" * 64, "/d", "base", max_attempts=2)
    job, created = ledger.enqueue(spec)
    again, created_again = ledger.enqueue(spec)
    assert created and not created_again and again.id == job.id
    assert ledger.runnable() == [job.id]
    claimed = ledger.claim(job.id, "w1", lease_s=60)
    assert claimed is not None and claimed.state is TrainingState.RUNNING and claimed.attempts == 1
    assert ledger.claim(job.id, "w2", lease_s=60) is None  # held by a live worker
    assert ledger.runnable() == []
    clock.now += 61  # w1 died: its lease expired, w2 takes the job over
    assert ledger.runnable() == [job.id]
    taken = ledger.claim(job.id, "w2", lease_s=60)
    assert taken is not None and taken.lease_owner == "w2" and taken.attempts == 2
    assert not ledger.renew(job.id, "w1", 60) and ledger.renew(job.id, "w2", 60)
    ledger.complete(job.id, metrics={"x": 1}, adapter_id=None)
    done = ledger.job(job.id)
    assert done.state is TrainingState.SUCCEEDED and done.metrics == {"x": 1}
    # The same dataset again (another worker, a redelivered message, a person): nothing new to do.
    same, created_now = ledger.enqueue(spec)
    assert same.id == job.id and not created_now
    assert ledger.claim(job.id, "w3", 60) is None and ledger.runnable() == []


def test_failures_are_recorded_and_retried_at_most_m_times(tmp_path: Path) -> None:
    trainer = FakeTrainer(fail_times=5)
    service = _service(tmp_path, trainer, max_attempts=3)
    notified: list[int] = []
    service.notify = notified.append
    job = service.enqueue(_dataset(tmp_path))
    assert notified == [job.id]
    for attempt in (1, 2):
        failed = service.run(job.id)
        assert failed is not None and failed.state is TrainingState.QUEUED and failed.attempts == attempt
    final = service.run(job.id)
    assert final is not None and final.state is TrainingState.FAILED
    assert [f["error"] for f in final.failures] == [f"RuntimeError: scripted failure {i}" for i in (1, 2, 3)]
    assert final.error == "RuntimeError: scripted failure 3"
    assert notified == [job.id, job.id, job.id]  # re-announced after each failure that may retry
    assert service.run(job.id) is None and len(trainer.calls) == 3  # never a fourth try
    assert service.run_pending() == []
    retried = service.ledger.retry(job.id)
    assert retried.state is TrainingState.QUEUED and retried.max_attempts == 4


def test_a_failure_then_success_registers_and_promotes(tmp_path: Path) -> None:
    trainer = FakeTrainer(fail_times=1)
    service = _service(tmp_path, trainer)
    job = service.enqueue(_dataset(tmp_path))
    ran = service.run_pending()
    assert [j.state for j in ran] == [TrainingState.QUEUED]
    ran = service.run_pending()
    assert [j.state for j in ran] == [TrainingState.SUCCEEDED]
    done = service.ledger.job(job.id)
    assert done.metrics is not None and done.metrics["promotion"]["promoted"] is True
    (adapter,) = service.ledger.adapters()
    assert adapter.promoted and adapter.version == 1 and adapter.dataset_hash == done.dataset_hash
    assert Path(adapter.path, "adapter_config.json").is_file()

    # A second dataset whose adapter is worse than the served one: registered, not promoted.
    trainer.adapter_loss, trainer.exact_match = 1.9, 0.0
    second = service.enqueue(_dataset(tmp_path, tag="b"))
    service.run(second.id)
    assert trainer.calls[-1].current_adapter == Path(adapter.path)  # the served adapter was evaluated too
    v1, v2 = service.ledger.adapters()
    assert v1.promoted and not v2.promoted and "does not beat the served adapter" in v2.decision

    # A better one replaces it.
    trainer.adapter_loss, trainer.exact_match = 1.0, 0.75
    third = service.enqueue(_dataset(tmp_path, tag="c"))
    service.run(third.id)
    assert [a.promoted for a in service.ledger.adapters()] == [False, False, True]
    assert service.ledger.promoted("deepseek-ai/deepseek-coder-6.7b-instruct").version == 3  # type: ignore[union-attr]
    status = service.status()
    assert [a["promoted"] for a in status["adapters"]] == [False, False, True]
    assert [j["state"] for j in status["jobs"]] == ["succeeded"] * 3


def test_threshold_of_new_feedback_enqueues_once(tmp_path: Path) -> None:
    service = _service(tmp_path, FakeTrainer(), min_new_examples=2)
    add_feedback(service.store, 1, merged=True, merged_diff=BOT_DIFF)
    assert service.check() is None  # one new example: not yet
    add_feedback(service.store, 2, merged=False)
    job = service.check()
    assert job is not None and job.reason == "threshold"
    assert service.status()["new_feedback"] == 0  # the feedback is consumed
    assert service.check() is None
    dataset = Path(job.dataset_path)
    assert (dataset / "README.md").is_file() and "2 pull requests" in (dataset / "README.md").read_text()
    # The same examples again (feedback saved again, as a redelivered webhook does): the same dataset hash,
    # so the job is the same one.
    add_feedback(service.store, 1, merged=True, merged_diff=BOT_DIFF)
    add_feedback(service.store, 2, merged=False)
    again = service.check()
    assert again is not None and again.id == job.id
    assert len(service.ledger.jobs()) == 1


def test_huey_carries_jobs_and_feedback_messages(tmp_path: Path) -> None:
    trainer = FakeTrainer()
    service = _service(tmp_path, trainer, min_new_examples=1)
    queue = memory_queue()
    service.notify = announcer(queue)
    target = TrainingWorker(service, queue)
    queue.consume(target.handlers(), {})
    job = service.enqueue(_dataset(tmp_path))  # announced on huey, which runs it at once (immediate mode)
    assert service.ledger.job(job.id).state is TrainingState.SUCCEEDED and len(trainer.calls) == 1
    queue.enqueue(Kind.TRAIN_JOB, job.id)  # a duplicated message: the ledger says there is nothing left to do
    assert len(trainer.calls) == 1

    # The bot's feedback capture sends training_ready on the same queue: the training worker answers it.
    feedback_id = add_feedback(service.store, 7, merged=True, merged_diff=BOT_DIFF)
    queue.enqueue(Kind.TRAINING_READY, feedback_id)
    assert len(service.ledger.jobs()) == 2 and len(trainer.calls) == 2
    with pytest.raises(RuntimeError, match="only the training queue"):
        target.handlers()(Kind.RUN_JOB, 1)


def test_a_failed_job_is_announced_again_after_its_backoff(tmp_path: Path) -> None:
    """A failure that may retry is queued again with a doubling backoff: claims before it ends are refused,
    and the queue message that announces it is delayed by as much."""
    clock = Clock()
    trainer = FakeTrainer(fail_times=5)
    service = _service(tmp_path, trainer, max_attempts=3, retry_backoff_s=30)
    service.ledger = TrainingLedger(service.store, clock=clock)
    announced: list[tuple[int, float]] = []
    service.notify = lambda job_id, *, delay_s=0.0: announced.append((job_id, delay_s))
    job = service.enqueue(_dataset(tmp_path))
    failed = service.run(job.id)
    assert failed is not None and failed.state is TrainingState.QUEUED and failed.retry_at == clock.now + 30
    assert announced == [(job.id, 0.0), (job.id, 30.0)]
    assert service.run(job.id) is None and service.ledger.runnable() == []  # still backing off
    clock.now += 30
    assert service.ledger.runnable() == [job.id]
    service.run(job.id)
    assert announced[-1] == (job.id, 60.0)  # the backoff doubles
    clock.now += 60
    final = service.run(job.id)
    assert final is not None and final.state is TrainingState.FAILED and final.retry_at is None
    assert len(trainer.calls) == 3 and announced[-1] == (job.id, 60.0)  # given up: not announced again
    retried = service.ledger.retry(job.id)
    assert retried.state is TrainingState.QUEUED and service.ledger.runnable() == [job.id]
