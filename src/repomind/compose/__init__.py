"""The composition: (server settings, repository config, command-line flags) → one run.

:mod:`repomind.compose.config` applies the one precedence (flag > repository config > server settings >
default) into a frozen :class:`RunConfig`; :mod:`repomind.compose.run` builds the run's model, sandbox,
localiser (with its calibration and re-ranker), limits and strategy from it. A strategy is how a run
solves the issue (:mod:`repomind.pipeline.strategies`). The CLI, the bot's pipeline and the
worker's composition all call these; nothing else chooses between the sources.
"""

from __future__ import annotations

from repomind.compose.config import (
    Overrides,
    RunConfig,
    ServerDefaults,
    resolve,
    resolve_local,
    served_model,
)
from repomind.compose.run import Boundaries, RunParts, build_localiser, build_run, limits, load_embedder

__all__ = [
    "Boundaries",
    "Overrides",
    "RunConfig",
    "RunParts",
    "ServerDefaults",
    "build_localiser",
    "build_run",
    "limits",
    "load_embedder",
    "resolve",
    "resolve_local",
    "served_model",
]
