"""Patch, test and reflect: turn an issue into a tested patch (``repomind solve``)."""

from repomind.pipeline.solve.artifacts import SCHEMA_VERSION, read_trajectory
from repomind.pipeline.solve.reflect import AttemptRecord, Category
from repomind.pipeline.solve.request import SolveReport, SolveRequest
from repomind.pipeline.solve.run import solve

__all__ = [
    "SCHEMA_VERSION",
    "AttemptRecord",
    "Category",
    "SolveReport",
    "SolveRequest",
    "read_trajectory",
    "solve",
]
