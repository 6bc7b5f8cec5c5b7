"""Running untrusted code in Docker: images, cached repository environments, limits, timeouts.

This package imports nothing else of Repomind.
"""

from repomind.sandbox.docker_sandbox import DockerSandbox
from repomind.sandbox.errors import (
    CommandNotFoundError,
    DockerUnavailableError,
    EnvironmentSetupError,
    ImageBuildError,
    ImageNotFoundError,
    SandboxError,
    WorkTreeError,
)
from repomind.sandbox.limits import Limits
from repomind.sandbox.protocol import Sandbox
from repomind.sandbox.types import Command, Environment, EnvironmentSpec, ExecResult, Outcome

__all__ = [
    "Command",
    "CommandNotFoundError",
    "DockerSandbox",
    "DockerUnavailableError",
    "Environment",
    "EnvironmentSetupError",
    "EnvironmentSpec",
    "ExecResult",
    "ImageBuildError",
    "ImageNotFoundError",
    "Limits",
    "Outcome",
    "Sandbox",
    "SandboxError",
    "WorkTreeError",
]
