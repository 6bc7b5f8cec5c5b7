"""Errors raised by the sandbox.

The sandbox imports nothing else of Repomind, so it has its own small hierarchy; the edges (CLI, worker)
catch :class:`SandboxError` next to ``repomind.errors.RepomindError``.
"""

from __future__ import annotations

from repomind.sandbox.output import cap_text


class SandboxError(Exception):
    """Base class: something about running code in the sandbox went wrong.

    ``output`` carries whatever the failing step printed, so that the caller can show it.
    """

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.output = output

    def __str__(self) -> str:
        if not self.output:
            return self.message
        return f"{self.message}\n--- output ---\n{self.output.rstrip()}"


class DockerUnavailableError(SandboxError):
    """The Docker daemon cannot be reached (not installed, not running, or no permission)."""


class ImageNotFoundError(SandboxError):
    """An image the sandbox needs does not exist (the base image has not been built)."""


class ImageBuildError(SandboxError):
    """Building the sandbox base image failed."""


#: The most of a failed setup's output that leaves the sandbox package (head and tail), well under the
#: 65,536 characters GitHub allows in a comment, so a status comment that quotes it is never refused.
SETUP_OUTPUT_CAP = 12_000


class EnvironmentSetupError(SandboxError):
    """Setting up a repository's environment failed (its install or setup command did not succeed).

    ``output`` is capped to :data:`SETUP_OUTPUT_CAP` characters (head and tail).
    """

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message, output=cap_text(output, SETUP_OUTPUT_CAP))


class ImageNotAllowedError(EnvironmentSetupError):
    """The repository's config names an image the operator did not allow-list."""


class CommandNotFoundError(SandboxError):
    """The command to run does not exist inside the sandbox."""


class WorkTreeError(SandboxError):
    """The work tree to copy into the sandbox is missing or unreadable."""
