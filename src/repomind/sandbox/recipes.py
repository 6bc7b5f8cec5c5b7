"""How a repository's environment is set up, by kind: the recipe its toolchain names.

A toolchain (:mod:`repomind.pipeline.toolchain`) hands the sandbox an
:class:`~repomind.sandbox.types.EnvironmentSpec` whose ``recipe`` names one of :data:`RECIPES`; the
sandbox sets the environment up with it. ``pip`` is the one recipe today (:func:`environment.build`:
requirements read as data on the host, a wheelhouse fetched there, everything built and installed in
confined containers). A language that installs differently (npm, go modules) adds a module beside this one
with a function of the :class:`Recipe` shape, and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Protocol

from repomind.sandbox import environment
from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.limits import Limits
from repomind.sandbox.types import Environment, EnvironmentSpec


class Recipe(Protocol):
    """Sets up (or finds cached) the environment of ``work_tree`` on the Docker daemon ``client``."""

    def __call__(
        self,
        client: Any,
        work_tree: Path,
        spec: EnvironmentSpec,
        *,
        limits: Limits,
        log: Callable[[str], None],
        allowed_images: Collection[str],
    ) -> Environment: ...


RECIPES: dict[str, Recipe] = {"pip": environment.build}


class UnknownRecipeError(EnvironmentSetupError):
    """The spec names a recipe the sandbox does not have."""


def recipe_for(name: str, recipes: dict[str, Recipe] | None = None) -> Recipe:
    """The recipe called ``name``; :class:`UnknownRecipeError` names the known ones otherwise."""
    known = RECIPES if recipes is None else recipes
    try:
        return known[name]
    except KeyError:
        raise UnknownRecipeError(
            f"no environment recipe {name!r} in the sandbox (it has: {', '.join(sorted(known))})"
        ) from None
