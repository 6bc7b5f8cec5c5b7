"""Every table of the store on one metadata: the bot's (:mod:`repomind.store.models`), the training
ledger's (:mod:`repomind.store.training`) and the worker registry (:mod:`repomind.store.workers`). The
migrations build this schema; a test checks they agree."""

from __future__ import annotations

from sqlalchemy import MetaData

from repomind.store import training, workers
from repomind.store.models import Base

__all__ = ["metadata"]

#: The tables of :mod:`repomind.store.training` are registered on ``Base`` when that module is imported.
metadata: MetaData = Base.metadata
_TRAINING_TABLES = (training.TrainingJob, training.Adapter)
#: The worker registry (:mod:`repomind.store.workers`), registered on ``Base`` the same way.
_WORKER_TABLES = (workers.WorkerRecord,)
