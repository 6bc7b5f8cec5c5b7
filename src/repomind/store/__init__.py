"""The store shared by bot and training: the run ledger, webhook deliveries and feedback (SQLAlchemy 2)."""

from repomind.store.db import default_url, make_engine
from repomind.store.joblog import add_event, latest_events
from repomind.store.ledger import JobRequest, Ledger
from repomind.store.models import Delivery, Feedback, Job, JobEvent, JobState, Pin

# Registered on the same Base (repomind.store.schema): the migrations make the training ledger's tables too.
from repomind.store.training import Adapter, TrainingJob, TrainingState

__all__ = [
    "Adapter",
    "Delivery",
    "Feedback",
    "Job",
    "JobEvent",
    "JobRequest",
    "JobState",
    "Ledger",
    "Pin",
    "TrainingJob",
    "TrainingState",
    "add_event",
    "default_url",
    "latest_events",
    "make_engine",
]
