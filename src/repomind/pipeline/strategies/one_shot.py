"""``pipeline`` (also ``one-shot``): localise, then up to N attempts of patch, test and reflect
(:func:`repomind.pipeline.solve.solve`, unchanged)."""

from __future__ import annotations

from repomind.pipeline.solve import solve as _solve


class OneShot:
    """Today's pipeline, unchanged: its ``solve`` is :func:`repomind.pipeline.solve.solve` itself."""

    name: str = "pipeline"
    solve = staticmethod(_solve)
