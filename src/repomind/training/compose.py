"""Settings → the training service and queue: the one place the training side reads its configuration."""

from __future__ import annotations

import json
from pathlib import Path

from repomind.settings import Settings
from repomind.store.artifacts import open_artifacts
from repomind.store.ledger import Ledger
from repomind.training.config import TrainConfig, TrainingSettings
from repomind.training.ledger import TrainingLedger
from repomind.training.service import Notify, TrainingService
from repomind.training.trainer import QLoRATrainer, Trainer


def load_config(path: Path | None) -> TrainConfig:
    """Hyperparameters from a JSON file (any subset of :class:`TrainConfig`'s fields), or the defaults."""
    if path is None:
        return TrainConfig()
    from repomind.errors import UsageError

    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"training config {path}: {exc}") from None


def make_service(
    settings: Settings,
    store: Ledger,
    *,
    training: TrainingSettings | None = None,
    trainer: Trainer | None = None,
    config: TrainConfig | None = None,
    notify: Notify | None = None,
) -> TrainingService:
    training = training or TrainingSettings()
    return TrainingService(
        store=store,
        ledger=TrainingLedger(store),
        settings=training,
        root=training.root(settings.data_dir),
        runs_dir=settings.runs_dir,
        trainer=trainer or QLoRATrainer(),
        config=config or TrainConfig(),
        secrets=settings.secret_values(),
        notify=notify,
        artifacts=open_artifacts(settings, store),
    )
