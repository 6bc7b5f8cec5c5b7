"""The one parser of ``REPOMIND_REQUIRE_*``: what a test needs and may not silently skip without.

A test that needs something this machine may lack calls :func:`missing` (or :func:`require` for an
optional Python package) instead of ``pytest.skip`` / ``pytest.importorskip``. Without the flag it
skips with the reason; with the flag set (CI sets all of them in ``.ci/run``) it fails instead, so that a
missing dependency can never make a green run.

- ``REPOMIND_REQUIRE_DOCKER=1``: the Docker daemon and the sandbox base image (the ``docker_client``
  fixture).
- ``REPOMIND_REQUIRE_SERVICES=1``: PostgreSQL, Redis and Chroma server binaries (``services`` tests).
- ``REPOMIND_REQUIRE_BROWSER=1``: Debian's ``chromium`` and the ``playwright`` package that drives it
  (``browser`` tests; scripts/provision-browser.sh installs the browser).
- ``REPOMIND_REQUIRE_EXTRAS=1``: the optional Python extras the ``dev`` extra installs (torch, peft,
  transformers, swebench, ...); or a comma-separated list of module names to require only those.

A value is on when it is ``1``, ``true`` or ``yes`` (any case); anything else is off.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Literal, NoReturn

import pytest

Kind = Literal["docker", "services", "browser", "extras"]
FLAGS: dict[Kind, str] = {
    "docker": "REPOMIND_REQUIRE_DOCKER",
    "services": "REPOMIND_REQUIRE_SERVICES",
    "browser": "REPOMIND_REQUIRE_BROWSER",
    "extras": "REPOMIND_REQUIRE_EXTRAS",
}
_ON = ("1", "true", "yes")


def required(kind: Kind, module: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether ``kind`` (for extras: ``module``) must be present, by the flag in ``env`` (os.environ)."""
    value = (env if env is not None else os.environ).get(FLAGS[kind], "").strip()
    if value.lower() in _ON:
        return True
    if kind == "extras" and module is not None:
        wanted = {m.strip() for m in value.split(",") if m.strip()}
        return module.split(".")[0] in wanted
    return False


def missing(kind: Kind, reason: str, *, module: str | None = None) -> NoReturn:
    """Skip the test for ``reason``, or fail it when the flag requires ``kind``."""
    if required(kind, module):
        pytest.fail(f"{FLAGS[kind]} is set but {reason}", pytrace=False)
    pytest.skip(reason)


def require(module: str) -> ModuleType:
    """``pytest.importorskip`` that obeys ``REPOMIND_REQUIRE_EXTRAS``: the imported module."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing("extras", f"the optional package {module!r} is not installed ({exc})", module=module)
