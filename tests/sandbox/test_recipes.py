"""The environment recipe is chosen by name (the toolchain's), so a language that installs differently
plugs into the real sandbox without touching the pip recipe."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.toolchain.python import PythonToolchain
from repomind.repoconfig import RepoConfig
from repomind.sandbox import DockerSandbox, environment, recipes
from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.limits import Limits
from repomind.sandbox.types import Environment, EnvironmentSpec


def test_the_python_toolchain_names_the_pip_recipe_which_is_the_sandboxs_builder() -> None:
    spec = PythonToolchain().environment("o/r", RepoConfig())
    assert spec.recipe == "pip"
    assert recipes.recipe_for(spec.recipe) is environment.build


def test_an_unknown_recipe_is_refused_before_docker_is_reached(tmp_path: Path) -> None:
    box = DockerSandbox()  # no client: reaching Docker would try to connect
    with pytest.raises(recipes.UnknownRecipeError, match=r"no environment recipe 'npm'.*it has: pip"):
        box.prepare(tmp_path, EnvironmentSpec("o/r", recipe="npm"))
    assert isinstance(recipes.UnknownRecipeError("x"), EnvironmentSetupError)
    assert box._client is None


def test_the_docker_sandbox_sets_up_with_the_recipe_the_spec_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, Path, EnvironmentSpec, Limits, Collection[str]]] = []

    def shell_recipe(
        client: Any,
        work_tree: Path,
        spec: EnvironmentSpec,
        *,
        limits: Limits,
        log: Callable[[str], None],
        allowed_images: Collection[str],
    ) -> Environment:
        seen.append((client, work_tree, spec, limits, allowed_images))
        log("shell: nothing to install")
        return Environment(image="repomind-env/shell", key="k", cached=False, setup_seconds=0.0)

    monkeypatch.setitem(recipes.RECIPES, "shell", shell_recipe)
    lines: list[str] = []
    client = object()
    box = DockerSandbox(client, log=lines.append, allowed_images=("img:1",))
    env = box.prepare(tmp_path, EnvironmentSpec("o/r", recipe="shell"))
    assert env.image == "repomind-env/shell" and lines == ["shell: nothing to install"]
    assert seen == [(client, tmp_path, EnvironmentSpec("o/r", recipe="shell"), box.limits, ("img:1",))]
