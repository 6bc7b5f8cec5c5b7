"""``compose.yaml`` (Compose v2 itself is not installable here): the file is valid against the Compose
Specification's JSON schema (vendored, tests/fixtures/compose/), after interpolation with an empty
environment as Compose does it; every Repomind service's command resolves in the CLI's parser; the other
services' commands are what their images run (Chroma's options checked against the installed ``chroma``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml

from repomind.cli import cli
from repomind.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "fixtures" / "compose" / "compose-spec.json"
_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """``${VAR:-default}`` → default, ``${VAR}`` → "" (Compose with none of the variables set)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: m.group(2) or "", value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = interpolate(yaml.safe_load((ROOT / "compose.yaml").read_text()))
    return data


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(compose)
    # and the schema does catch a mistake (not a vacuous pass)
    broken = {
        **compose,
        "services": {**compose["services"], "api": {**compose["services"]["api"], "ports": 8}},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_the_services_and_their_state(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"api", "worker", "trainer", "redis", "postgres", "chroma"} <= set(services)
    assert services["trainer"]["profiles"] == ["gpu"]
    assert services["trainer"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert int(services["worker"]["deploy"]["replicas"]) >= 1
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["worker"]["volumes"]
    assert not any("docker.sock" in v for v in services["api"]["volumes"])  # the API never runs a sandbox
    named = set(compose["volumes"])
    for name in ("api", "worker", "postgres", "redis", "chroma"):
        sources = {v.split(":")[0] for v in services[name]["volumes"]}
        assert sources & named, f"{name} keeps its state in a named volume"
    # every REPOMIND_* variable the services set is a setting of the app
    fields = {f"REPOMIND_{name.upper()}" for name in Settings.model_fields}
    for name in ("api", "worker", "trainer"):
        env = services[name]["environment"]
        assert {k for k in env if k.startswith("REPOMIND_")} <= fields
        assert env["REPOMIND_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["REPOMIND_REDIS_URL"] == "redis://redis:6379/0"
        assert env["REPOMIND_CHROMA_URL"] == "http://chroma:8000"


def _resolve(argv: list[str]) -> click.Context:
    """Parse ``repomind ARGV`` down to its subcommand, as the console script would (nothing runs)."""
    ctx = cli.make_context("repomind", [], resilient_parsing=True)
    group: click.Command = cli
    args = list(argv)
    while isinstance(group, click.Group):
        name, command, args = group.resolve_command(ctx, args)
        assert command is not None, f"repomind has no command {name!r}"
        ctx = command.make_context(name or "", args, parent=ctx)
        with warnings.catch_warnings():  # click 8.2 deprecates protected_args (kept for a nested group)
            warnings.simplefilter("ignore", DeprecationWarning)
            group, args = command, [*ctx.protected_args, *ctx.args]
    return ctx


def test_every_repomind_command_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    seen = {}
    for name in ("api", "worker", "trainer"):
        ctx = _resolve(services[name]["command"])
        seen[name] = (ctx.command.name, ctx.params)
    assert seen["api"][0] == "serve" and seen["api"][1]["no_worker"] is True
    assert seen["api"][1]["host"] == "0.0.0.0"
    assert seen["worker"][0] == "worker" and seen["worker"][1]["queue"] == "pipeline"
    assert seen["trainer"][0] == "worker" and seen["trainer"][1]["queue"] == "training"
    with pytest.raises(click.UsageError):  # a misspelt command would be caught
        _resolve(["serve", "--no-wroker"])


def test_the_other_images_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["redis"]["command"][0] == "redis-server"
    assert services["postgres"]["command"][0] == "postgres"
    assert services["redis"]["command"][1:] == ["--appendonly", "yes", "--dir", "/data"]
    chroma = Path(sys.executable).with_name("chroma")
    command = services["chroma"]["command"]
    assert command[0] == "run"
    assert chroma.exists(), "chromadb's own `chroma` CLI is the server the image runs"
    helptext = subprocess.run(
        [str(chroma), "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": ""},
        check=True,
    ).stdout
    for option in (a for a in command[1:] if a.startswith("--")):
        assert option in helptext, f"`chroma run` has no {option}"
