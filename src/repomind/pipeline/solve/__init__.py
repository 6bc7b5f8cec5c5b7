"""Patch, test and reflect: turn an issue into a tested patch (``repomind solve``)."""

from repomind.pipeline.solve.artifacts import SCHEMA_VERSION, read_trajectory
from repomind.pipeline.solve.events import RunEvents
from repomind.pipeline.solve.outcome import Category, OutcomeStatus, Stopped
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.solve.request import SolveReport, SolveRequest
from repomind.pipeline.solve.run import solve

__all__ = [
    "SCHEMA_VERSION",
    "AttemptRecord",
    "Category",
    "OutcomeStatus",
    "RunEvents",
    "SolveReport",
    "SolveRequest",
    "Stopped",
    "read_trajectory",
    "solve",
]
