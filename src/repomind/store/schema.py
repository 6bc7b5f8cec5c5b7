"""Every table of the store on one metadata: the bot's (:mod:`repomind.store.models`) and the training
ledger's (:mod:`repomind.store.training`). The migrations build this schema; a test checks they agree."""

from __future__ import annotations

from sqlalchemy import MetaData

from repomind.store import training
from repomind.store.models import Base

__all__ = ["metadata"]

#: The tables of :mod:`repomind.store.training` are registered on ``Base`` when that module is imported.
metadata: MetaData = Base.metadata
_TRAINING_TABLES = (training.TrainingJob, training.Adapter)
