"""The package layout and its import rules (DESIGN.md §2, docs/architecture.md "Import layers").

Imports flow one way: server → webhooks → bot → pipeline → sandbox; eval → pipeline; bot, training and
server → store. Every ``import``/``from ... import`` of ``repomind`` in ``src/repomind/<package>/`` is read
with :mod:`ast`, including the ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "repomind"

# The packages a package must not import (besides itself, anything goes: the shared top-level modules
# and the layers below it).
FORBIDDEN: dict[str, frozenset[str]] = {
    "pipeline": frozenset(
        {"server", "webhooks", "bot", "eval", "cli", "compose", "store", "training", "testing"}
    ),
    "compose": frozenset({"server", "webhooks", "bot", "eval", "cli", "training", "testing"}),
    "eval": frozenset({"server", "webhooks", "bot", "cli", "testing"}),
    "bot": frozenset({"server", "webhooks", "eval", "cli", "training", "testing"}),
    "webhooks": frozenset({"server", "eval", "cli", "testing"}),
    "training": frozenset({"server", "webhooks", "bot", "eval", "cli", "testing"}),
    # the store is shared by bot and training: it may use the shared top-level modules (log, errors), no layer
    "store": frozenset(
        {"server", "webhooks", "bot", "pipeline", "eval", "cli", "compose", "training", "sandbox", "testing"}
    ),
}
# Packages that import nothing of Repomind but themselves.
SELF_CONTAINED = ("sandbox",)


def imported(path: Path) -> set[str]:
    """The ``repomind`` modules ``path`` imports, as dotted names below ``repomind``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("repomind."))
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            if node.module == "repomind":
                names.update(f"repomind.{a.name}" for a in node.names)
            elif node.module and node.module.startswith("repomind."):
                names.add(node.module)
    return {name.split(".")[1] for name in names}


def edges(package: str) -> dict[str, set[str]]:
    """For each module of ``package``, the other top-level ``repomind`` names it imports."""
    return {
        str(path.relative_to(PACKAGE)): imported(path) - {package}
        for path in sorted((PACKAGE / package).rglob("*.py"))
    }


def test_the_layers_exist() -> None:
    layers = ("server", "webhooks", "bot", "pipeline", "sandbox", "eval", "store", "training", "testing")
    for package in layers:
        assert (PACKAGE / package / "__init__.py").is_file(), package


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package: str) -> None:
    wrong = {m: sorted(names & FORBIDDEN[package]) for m, names in edges(package).items()}
    assert {m: names for m, names in wrong.items() if names} == {}


@pytest.mark.parametrize("package", SELF_CONTAINED)
def test_self_contained_packages_import_nothing_else(package: str) -> None:
    assert {m: sorted(names) for m, names in edges(package).items() if names} == {}


def test_the_web_server_is_apart_from_the_ingress() -> None:
    """``webhooks/`` is the ingress; the app factory, sign-in, setup, pages and metrics are ``server/``."""
    server_only = {"app", "signin", "oauth", "cookies", "setup", "runs", "pages", "metrics", "runtime"}
    assert not {p.stem for p in (PACKAGE / "webhooks").glob("*.py")} & server_only
    assert not (PACKAGE / "webhooks" / "app.yml").exists()
    assert (PACKAGE / "server" / "app.yml").is_file()


def test_evaluation_is_apart_from_the_runtime_pipeline() -> None:
    assert not (PACKAGE / "pipeline" / "swebench").exists()
    localise = {p.stem for p in (PACKAGE / "pipeline" / "localise").glob("*.py")}
    assert not {"evaluate", "plots"} & localise
