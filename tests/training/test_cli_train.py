"""`repomind train ...` run as a user runs it: datasets from history, enqueue, status, consume, one job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import run

from .test_external import _history_repo


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "REPOMIND_DATA_DIR": str(tmp_path / "data"),
        "OMP_NUM_THREADS": "1",
        "REPOMIND_TRAIN_MIN_NEW_EXAMPLES": "5",
    }


def test_dataset_enqueue_and_status(tmp_path: Path, env: dict[str, str]) -> None:
    repo = _history_repo(tmp_path / "calc")
    out = tmp_path / "ds"
    res = run(
        "train",
        "dataset",
        "--history",
        str(repo),
        "--out",
        str(out),
        "--eval-fraction",
        "0.5",
        "--json",
        env=env,
    )
    assert res.returncode == 0, res.stderr
    manifest = json.loads(res.stdout)
    assert manifest["counts"]["sft"] == {"train": 1, "eval": 1} and manifest["sources"] == {"history": 2}
    assert (out / "README.md").is_file() and (out / "sft-train.jsonl").is_file()

    again = run("train", "dataset", "--history", str(repo), "--out", str(out), env=env)
    assert again.returncode == 2 and "is not empty" in again.stderr
    none = run("train", "dataset", "--out", str(tmp_path / "empty"), env=env)
    assert none.returncode == 2 and "no source" in none.stderr

    first = run("train", "enqueue", "--dataset", str(out), env=env)
    second = run("train", "enqueue", "--dataset", str(out), env=env)
    assert first.returncode == 0 and "training job 1 (queued)" in first.stdout
    assert "training job 1 (queued)" in second.stdout  # idempotent by dataset hash
    status = run("train", "status", "--json", env=env)
    data = json.loads(status.stdout)
    assert data["queued"] == [1] and data["jobs"][0]["dataset"] == manifest["hash"][:12]
    assert data["new_feedback"] == 0 and data["min_new_examples"] == 5
    human = run("train", "status", env=env)
    assert "#1 queued" in human.stdout
    serve = run("llm", "serve", "--adapter", str(out), env=env)
    assert serve.returncode == 2 and "not a LoRA adapter directory" in serve.stderr


@pytest.mark.slow
def test_consume_the_queue_and_run_one_job(tmp_path: Path, env: dict[str, str]) -> None:
    from repomind.testing.training import tiny_llama

    repo = _history_repo(tmp_path / "calc")
    model = tiny_llama(tmp_path / "tiny")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "max_steps": 3,
                "batch_size": 2,
                "max_seq_len": 4096,
                "exact_match_examples": 1,
                "max_new_tokens": 16,
            }
        )
    )
    out = tmp_path / "ds"
    assert (
        run(
            "train", "dataset", "--history", str(repo), "--out", str(out), "--eval-fraction", "0.5", env=env
        ).returncode
        == 0
    )
    env = {**env, "REPOMIND_TRAIN_BASE_MODEL": str(model)}
    assert run("train", "enqueue", "--dataset", str(out), env=env).returncode == 0
    consumed = run("train", "--once", "--config", str(config), env=env)
    assert consumed.returncode == 0, consumed.stderr
    assert "training job 1: succeeded" in consumed.stderr
    data = json.loads(run("train", "status", "--json", env=env).stdout)
    assert data["jobs"][0]["state"] == "succeeded" and data["queued"] == []
    (adapter,) = data["adapters"]
    assert adapter["version"] == 1 and adapter["quantized"] is False and adapter["base_model"] == str(model)
    assert Path(adapter["path"], "adapter_config.json").is_file()

    one = run(
        "train",
        "run",
        "--dataset",
        str(out),
        "--base-model",
        str(model),
        "--out",
        str(tmp_path / "one"),
        "--config",
        str(config),
        "--json",
        env=env,
    )
    assert one.returncode == 0, one.stderr
    metrics = json.loads(one.stdout)
    assert metrics["train_loss"]["steps"] == 3 and metrics["base"]["loss"] > 0
    assert (tmp_path / "one" / "adapter" / "adapter_model.safetensors").is_file()
    bad = run("train", "run", "--dataset", str(repo), "--out", str(tmp_path / "x"), env=env)
    assert bad.returncode == 2 and "not a Repomind dataset" in bad.stderr


def test_training_worker_consumes_the_huey_queue(tmp_path: Path, env: dict[str, str]) -> None:
    """`repomind worker --queue training` with no GitHub credentials: a job enqueued from another process
    is run from the huey queue; its failure is recorded with the reason and retried at most M times."""
    import os
    import signal
    import subprocess
    import time

    from tests.test_cli import REPOMIND

    repo = _history_repo(tmp_path / "calc")
    out = tmp_path / "ds"
    assert run("train", "dataset", "--history", str(repo), "--out", str(out), env=env).returncode == 0
    env = {
        **env,
        "REPOMIND_TRAIN_MAX_ATTEMPTS": "2",
        "REPOMIND_TRAIN_RETRY_BACKOFF_S": "1",  # the retry is announced by a delayed queue message
        "REPOMIND_TRAIN_BASE_MODEL": str(tmp_path / "gone.gguf"),
    }
    worker = subprocess.Popen(
        [REPOMIND, "worker", "--queue", "training"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert run("train", "enqueue", "--dataset", str(out), env=env).returncode == 0
        deadline = time.monotonic() + 120
        job: dict = {}
        while time.monotonic() < deadline:
            job = json.loads(run("train", "status", "--json", env=env).stdout)["jobs"][0]
            if job["state"] == "failed":
                break
            time.sleep(1)
        assert job["state"] == "failed" and job["attempts"] == 2, job
        assert "no GGUF file at" in job["error"]
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err[-2000:]
    assert "training failed" in err
