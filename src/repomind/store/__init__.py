"""The store shared by bot and training: the run ledger, webhook deliveries and feedback (SQLAlchemy 2)."""

from repomind.store.db import default_url, make_engine
from repomind.store.joblog import add_event, latest_events
from repomind.store.ledger import JobRequest, Ledger
from repomind.store.models import Delivery, Feedback, Job, JobEvent, JobState, Pin

__all__ = [
    "Delivery",
    "Feedback",
    "Job",
    "JobEvent",
    "JobRequest",
    "JobState",
    "Ledger",
    "Pin",
    "add_event",
    "default_url",
    "latest_events",
    "make_engine",
]
