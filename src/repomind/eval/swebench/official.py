"""Hand-off to the official ``swebench`` harness (Docker images from its registry; needs network)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from repomind.eval.swebench.errors import OfficialHarnessError
from repomind.sandbox.hostenv import clean_env

MODULE = "swebench.harness.run_evaluation"


def command(
    dataset: Path,
    predictions: Path,
    run_id: str,
    *,
    instance_ids: Sequence[str] = (),
    workers: int = 1,
    report_dir: Path | None = None,
    python: str = sys.executable,
) -> list[str]:
    """The ``python -m swebench.harness.run_evaluation`` command line for these predictions."""
    argv = [
        python,
        "-m",
        MODULE,
        "--dataset_name",
        str(dataset),
        "--predictions_path",
        str(predictions),
        "--run_id",
        run_id,
        "--max_workers",
        str(max(1, workers)),
    ]
    if instance_ids:
        argv += ["--instance_ids", *instance_ids]
    if report_dir is not None:
        argv += ["--report_dir", str(report_dir)]
    return argv


def check_available() -> None:
    """A clear error when the official harness cannot run here."""
    if importlib.util.find_spec("swebench") is None:
        raise OfficialHarnessError(
            "the official harness needs the swebench package: pip install 'repomind[eval]'"
        )
    if shutil.which("docker") is None:
        raise OfficialHarnessError("the official harness needs Docker (the docker command is not on PATH)")


def run(argv: list[str], cwd: Path) -> int:
    check_available()
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(argv, cwd=cwd, check=False, env=clean_env(network=True, docker=True)).returncode
