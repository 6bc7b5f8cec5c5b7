"""The environment of every process the host starts: an allow-list, never the worker's own environment.

The worker holds the GitHub App's private key, the webhook secret, LLM keys and installation tokens, some
of them in its environment. A child process (git, pip, uv, docker helpers) that reads or prints its
environment, or a repository-controlled string that makes one do so (``-r /proc/self/environ``), must
find none of them there. So no child inherits ``os.environ``: each gets :func:`clean_env`, the few
variables the tool needs (``PATH``, ``HOME``, the locale, the time zone) plus what the caller sets itself.

GitPython always lays its child's environment over ``os.environ``; :func:`masked_env` is the overlay that
blanks every variable outside the allow-list there.

This module imports nothing else of Repomind (the sandbox package never does); others import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Passed through from the worker when set: what any tool needs to run and to read text.
BASE_KEYS = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
#: Passed through for the tools that reach a package index: the operator's proxy, certificate and index
#: configuration (never anything of the repository's).
NETWORK_KEYS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CERT",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_NATIVE_TLS",
)
#: Passed through where a child talks to the Docker daemon (the official SWE-bench harness).
DOCKER_KEYS = ("DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_CONTEXT", "DOCKER_CONFIG")
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def clean_env(
    *,
    home: str | None = None,
    network: bool = False,
    docker: bool = False,
    extra: Mapping[str, str] | None = None,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for one host subprocess.

    ``home`` is its ``HOME`` (default: the worker's, for tools such as git that read the operator's
    configuration there; pass an empty directory where nothing of it is needed). ``network`` adds the
    operator's proxy and index settings, ``docker`` the Docker client's. ``extra`` is what the caller
    sets itself (``GIT_*``, cache directories). ``source``: where pass-through values come from
    (default ``os.environ``).
    """
    src = os.environ if source is None else source
    env = {key: src[key] for key in BASE_KEYS if src.get(key)}
    env.setdefault("PATH", _DEFAULT_PATH)
    env.setdefault("LANG", "C.UTF-8")
    env["HOME"] = home if home is not None else src.get("HOME") or "/nonexistent"
    if network:
        env.update({key: src[key] for key in NETWORK_KEYS if src.get(key)})
    if docker:
        env.update({key: src[key] for key in DOCKER_KEYS if src.get(key)})
    if extra:
        env.update(extra)
    return env


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """:func:`clean_env` for git: no system config, no prompts, no pager."""
    fixed = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat"}
    return clean_env(extra={**fixed, **(extra or {})})


def masked_env(allowed: Mapping[str, str], source: Mapping[str, str] | None = None) -> dict[str, str]:
    """An overlay for libraries that merge into ``os.environ`` (GitPython): ``allowed`` plus every other
    variable of ``source`` set to the empty string, so no value of the worker's survives."""
    src = os.environ if source is None else source
    return {**{key: "" for key in src if key not in allowed}, **allowed}
