"""The GPU validation scripts run on CPU with --tiny (so that a GPU session can run them unchanged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_smollm2_script_tiny() -> None:
    report = _bench("bench/train_smollm2.py", "--tiny")
    assert report["dataset"]["sources"] == {"history": 12}
    metrics = report["metrics"]
    assert metrics["quantized"] is False and metrics["adapter"]["loss"] < metrics["base"]["loss"]
    assert metrics["reload"]["matches_training_eval"] is True and metrics["reload"]["generated_chars"] > 0


@pytest.mark.slow
def test_throughput_script_tiny(tmp_path: Path) -> None:
    out = tmp_path / "tp.json"
    report = _bench("bench/train_throughput.py", "--tiny", "--workloads", "mixed", "--out", str(out))
    assert json.loads(out.read_text()) == report
    results = {r["variant"]: r for r in report["results"]}
    assert set(results) == {"baseline", "repomind"} and not any("error" in r for r in results.values())
    # Packing: the same number of rows per step carries more real tokens than padded single examples.
    assert results["repomind"]["real_tokens"] > results["baseline"]["real_tokens"]
    assert "speedup" in report["summary"]["mixed"]
