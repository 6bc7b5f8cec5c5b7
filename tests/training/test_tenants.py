"""Tenants stay apart: one installation's feedback and runs never reach another installation's dataset,
its adapter is promoted against its own, and only its own adapter serves its runs (unless the operator
shares with REPOMIND_TRAINING_SCOPE=shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repomind.store import Job, JobState, Ledger
from repomind.testing.training import FakeTrainer
from repomind.training.config import TrainingSettings
from repomind.training.dataset import load_split
from repomind.training.ledger import TrainingLedger
from repomind.training.service import TrainingService
from repomind.training.store_source import store_examples

from .helpers import BOT_DIFF, add_feedback, make_run, store_at

SECRET_A = "acme_private_ledger_rounding"
SECRET_B = "globex_private_launch_codes"


def _service(tmp_path: Path, trainer: FakeTrainer, **settings: object) -> TrainingService:
    store = store_at(tmp_path)
    return TrainingService(
        store=store,
        ledger=TrainingLedger(store),
        settings=TrainingSettings(**settings),  # type: ignore[arg-type]
        root=tmp_path / "training",
        runs_dir=tmp_path / "runs",
        trainer=trainer,
    )


def _job(store: Ledger, job_id: int, installation: int, repo: str, run_dir: Path) -> None:
    with store.session() as s:
        s.add(
            Job(
                id=job_id,
                repo=repo,
                installation_id=installation,
                issue_number=job_id,
                trigger="label",
                command="fix",
                state=JobState.SUCCEEDED,
                result={"run_dir": str(run_dir), "run_id": run_dir.name},
            )
        )


def _two_tenants(service: TrainingService) -> None:
    """Installation 1 (acme/ledger) and installation 2 (globex/rocket): two merged PRs each, each with its
    run; a feedback row recorded before installations were kept, attributed through its job; and an
    unreviewed run of installation 2."""
    runs = service.runs_dir
    for job_id, inst, repo, secret in (
        (1, 1, "acme/ledger", SECRET_A),
        (2, 1, "acme/ledger", SECRET_A),
        (3, 2, "globex/rocket", SECRET_B),
        (4, 2, "globex/rocket", SECRET_B),
        (5, 2, "globex/rocket", SECRET_B),
    ):
        _job(service.store, job_id, inst, repo, make_run(runs, f"job-{job_id}", f"{secret} {job_id}"))
    add_feedback(service.store, 1, merged=True, merged_diff=BOT_DIFF, job_id=1, repo="acme/ledger",
                 body=SECRET_A)  # fmt: skip
    add_feedback(service.store, 2, merged=True, merged_diff=BOT_DIFF, job_id=2, repo="acme/ledger",
                 body=SECRET_A, installation=None)  # fmt: skip  # attributed through job 2
    add_feedback(service.store, 3, merged=True, merged_diff=BOT_DIFF, job_id=3, repo="globex/rocket",
                 body=SECRET_B, installation=2)  # fmt: skip
    add_feedback(service.store, 4, merged=False, job_id=4, repo="globex/rocket", body=SECRET_B,
                 installation=2)  # fmt: skip
    # Feedback that no installation owns (no installation, no job) is never trained on in this scope.
    add_feedback(service.store, 9, merged=True, merged_diff=BOT_DIFF, body="orphan", installation=None)


def _dataset_text(path: Path) -> str:
    return "\n".join(f.read_text() for f in sorted(path.glob("*.jsonl")))


def test_each_installation_trains_only_on_its_own_data_and_is_served_its_own_adapter(tmp_path: Path) -> None:
    service = _service(tmp_path, FakeTrainer(), min_new_examples=2, include_unreviewed=True)
    _two_tenants(service)
    assert service.check() is not None
    jobs = {j.scope: j for j in service.ledger.jobs()}
    assert set(jobs) == {"installation:1", "installation:2"}  # one job per installation, none pooled
    text_a = _dataset_text(Path(jobs["installation:1"].dataset_path))
    text_b = _dataset_text(Path(jobs["installation:2"].dataset_path))
    assert SECRET_A in text_a and SECRET_B not in text_a and "orphan" not in text_a
    assert SECRET_B in text_b and SECRET_A not in text_b and "orphan" not in text_b
    assert f"{SECRET_B} 5" in text_b  # installation 2's unreviewed run, in its own dataset only
    assert service.status()["new_feedback"] == 1  # the orphan stays unconsumed, unused

    for job in service.ledger.runnable():
        service.run(job)
    adapters = {a.scope: a for a in service.ledger.adapters()}
    assert adapters["installation:1"].promoted and adapters["installation:2"].promoted  # each its own
    served_a = service.ledger.served("installation", 1)
    served_b = service.ledger.served("installation", 2)
    assert served_a is not None and served_a.dataset_hash == jobs["installation:1"].dataset_hash
    assert served_b is not None and served_b.dataset_hash == jobs["installation:2"].dataset_hash
    assert service.ledger.served("installation", 3) is None  # a third installation gets no one's adapter
    assert service.ledger.served("shared", 1) is None  # nothing was trained for sharing


def test_promotion_compares_and_retires_only_within_one_installation(tmp_path: Path) -> None:
    trainer = FakeTrainer()
    service = _service(tmp_path, trainer, min_new_examples=1)
    _two_tenants(service)
    service.check()
    for job in service.ledger.runnable():
        service.run(job)
    # A new, better dataset for installation 1 only: evaluated against installation 1's adapter, and
    # promoting it leaves installation 2's adapter served.
    add_feedback(service.store, 11, merged=True, merged_diff=BOT_DIFF, repo="acme/ledger", body="more")
    trainer.exact_match = 0.9
    job = service.check()
    assert job is not None and job.scope == "installation:1"
    first_a = service.ledger.served("installation", 1)
    assert first_a is not None
    service.run(job.id)
    assert trainer.calls[-1].current_adapter == Path(first_a.path)
    new_a, b = service.ledger.served("installation", 1), service.ledger.served("installation", 2)
    assert new_a is not None and new_a.version > first_a.version
    assert b is not None and b.promoted and b.scope == "installation:2"


def test_shared_scope_is_an_explicit_opt_in(tmp_path: Path) -> None:
    service = _service(tmp_path, FakeTrainer(), min_new_examples=2, scope="shared")
    _two_tenants(service)
    job = service.check()
    assert job is not None and job.scope == "shared" and len(service.ledger.jobs()) == 1
    text = _dataset_text(Path(job.dataset_path))
    assert SECRET_A in text and SECRET_B in text  # pooled, because the operator asked
    service.run(job.id)
    one, two = service.ledger.served("shared", 1), service.ledger.served("shared", 2)
    assert one is not None and two is not None and one.id == two.id
    assert service.ledger.served("installation", 1) is None


def test_a_store_dataset_needs_an_installation_unless_shared(tmp_path: Path) -> None:
    service = _service(tmp_path, FakeTrainer())
    _two_tenants(service)
    with pytest.raises(ValueError, match="per installation"):
        service.dataset_from_store()
    examples, counts = store_examples(service.store, service.runs_dir, installation_id=2)
    assert counts["feedback"] == 2 and all("globex" in e.issue for e in examples)


def test_default_scope_is_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPOMIND_TRAINING_SCOPE", raising=False)
    assert TrainingSettings().scope == "installation"
    monkeypatch.setenv("REPOMIND_TRAINING_SCOPE", "shared")
    assert TrainingSettings().scope == "shared"
    monkeypatch.setenv("REPOMIND_TRAINING_SCOPE", "everyone")
    with pytest.raises(ValueError):
        TrainingSettings()


def test_splits_load(tmp_path: Path) -> None:
    service = _service(tmp_path, FakeTrainer(), min_new_examples=1)
    _two_tenants(service)
    job = service.check()
    assert job is not None and load_split(Path(job.dataset_path), "sft", "train")


def test_the_bot_serves_an_installations_runs_only_with_its_own_adapter(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from repomind.compose import ServerDefaults, resolve, served_model
    from repomind.repoconfig import RepoConfig
    from repomind.settings import Settings
    from repomind.store import Ledger, make_engine

    service = _service(tmp_path, FakeTrainer(), min_new_examples=1)
    _two_tenants(service)
    service.check()
    for job in service.ledger.runnable():
        service.run(job)
    settings = Settings(
        data_dir=tmp_path,
        model="openai/base",
        adapter_model="openai/repomind-{scope}",
        embedding_model="none",
        webhook_secret=SecretStr("a-long-webhook-secret"),
    )
    server = ServerDefaults.from_settings(settings)
    ledger = Ledger(make_engine(settings.database, create=False))  # the runner's ledger

    def model_for(config: RepoConfig, installation: int) -> str | None:
        return resolve(server, config, adapter=served_model(server, ledger, installation)).model

    assert model_for(RepoConfig(), 1) == "openai/repomind-installation-1"
    assert model_for(RepoConfig(), 2) == "openai/repomind-installation-2"
    assert model_for(RepoConfig(), 3) == "openai/base"  # no adapter of its own: the base model
    assert model_for(RepoConfig(model="openai/theirs"), 1) == "openai/theirs"
    ledger.dispose()
