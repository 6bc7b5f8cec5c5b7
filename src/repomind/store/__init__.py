"""The store shared by bot and training: the run ledger, webhook deliveries and feedback (SQLAlchemy 2)."""

from repomind.store.db import default_url, make_engine
from repomind.store.ledger import JobRequest, Ledger
from repomind.store.models import Delivery, Feedback, Job, JobState, Pin

__all__ = [
    "Delivery",
    "Feedback",
    "Job",
    "JobRequest",
    "JobState",
    "Ledger",
    "Pin",
    "default_url",
    "make_engine",
]
