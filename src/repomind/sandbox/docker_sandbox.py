"""Running untrusted commands in Docker: isolated, limited, timed, and always cleaned up."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from repomind.sandbox import after, recipes
from repomind.sandbox.client import connect, container_labels
from repomind.sandbox.errors import CommandNotFoundError, SandboxError
from repomind.sandbox.limits import Limits
from repomind.sandbox.output import CappedBuffer
from repomind.sandbox.types import Command, Environment, EnvironmentSpec, ExecResult, Outcome, as_argv
from repomind.sandbox.worktree import pack

WORKDIR = "/work"
#: Extra seconds after the in-container timeout before the host kills the whole container.
HOST_GRACE_S = after.HOST_GRACE_S
_BASE_ENV = {
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "GIT_CONFIG_NOSYSTEM": "1",
}
# Run as the sandbox user before the command: a git baseline of the copied tree, so the diff can be read.
_BASELINE = (
    "cd /work && git init -q && git config user.email sandbox@repomind && git config user.name sandbox"
    " && git add -A && git commit -q --allow-empty --no-verify -m baseline"
)
# PID 1 of each container: reaps orphaned processes (so zombies do not eat the pids limit) and waits.
# Docker's own init would be mounted from the host, and nothing of the host but the work copy is mounted.
_REAPER = (
    "import os, time\n"
    "while True:\n"
    "    try:\n        os.wait()\n"
    "    except ChildProcessError:\n        time.sleep(0.5)\n"
)
_NO_BASELINE = after.NO_BASELINE


class DockerSandbox:
    """The real sandbox: a throw-away container per command, on the local (or ``DOCKER_HOST``) daemon."""

    def __init__(
        self,
        client: Any | None = None,
        *,
        limits: Limits | None = None,
        log: Callable[[str], None] = lambda _line: None,
        allowed_images: Collection[str] = (),
    ) -> None:
        self._client = client
        self.limits = limits or Limits()
        self._log = log
        self.allowed_images = tuple(allowed_images)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client

    def prepare(self, work_tree: Path, spec: EnvironmentSpec) -> Environment:
        setup = recipes.recipe_for(spec.recipe)  # an unknown recipe fails before Docker is reached
        return setup(
            self.client,
            work_tree,
            spec,
            limits=self.limits,
            log=self._log,
            allowed_images=self.allowed_images,
        )

    def run(
        self,
        env: Environment,
        work_tree: Path,
        command: Command,
        *,
        network: bool = False,
        limits: Limits | None = None,
        capture_diff: bool = True,
        collect: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        limits = limits or self.limits
        try:
            argv = as_argv(command)
        except ValueError as exc:
            raise SandboxError(str(exc)) from None
        container = self._create(env.image, network, limits)
        try:
            container.start()
            with pack(work_tree) as tree:
                container.put_archive(WORKDIR, tree)
            env_vars = {**_BASE_ENV, **(extra_env or {})}
            if network:
                env_vars["PIP_NO_INDEX"] = "0"
            result = self._exec(container, argv, env_vars, limits, baseline=capture_diff)
            notes: list[str] = []
            # Every step from here on is bounded in time and output (see repomind.sandbox.after).
            if result.outcome is Outcome.FAILED and after.oom_killed(
                self.client, container, limits, _BASE_ENV
            ):
                result = replace(result, outcome=Outcome.OOM)
                notes.append(f"killed: out of memory (limit {limits.memory_bytes // 2**20} MiB)")
            if result.outcome is Outcome.TIMEOUT:
                notes.append(f"killed: timed out after {limits.timeout_s:g} s")
            collected: dict[str, bytes] = {}
            for path in collect:
                if container.status == "exited":
                    break
                data, problem = after.read_file(self.client, container, path, limits, _BASE_ENV)
                if data is not None:
                    collected[path] = data
                if problem:
                    notes.append(problem)
            diff = None
            if capture_diff and container.status != "exited":
                diff, problem = after.read_diff(self.client, container, limits, _BASE_ENV)
                if problem:
                    notes.append(problem)
            return replace(result, diff=diff, notes=tuple(notes), collected=collected)
        finally:
            _remove(container)

    # -- internals ---------------------------------------------------------------------------------

    def _create(self, image: str, network: bool, limits: Limits) -> Any:
        return self.client.containers.create(
            image,
            ["python3", "-c", _REAPER],
            user="1000:1000",
            working_dir=WORKDIR,
            network_mode="bridge" if network else "none",
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={limits.tmp_bytes}"},
            volumes=[WORKDIR],  # an anonymous volume, removed with the container
            labels=container_labels("run"),
            environment={},
            **limits.confinement(),
        )

    def _exec(
        self, container: Any, argv: tuple[str, ...], env: dict[str, str], limits: Limits, *, baseline: bool
    ) -> ExecResult:
        api = self.client.api
        wrapped = ["timeout", "-s", "KILL", f"{limits.timeout_s:g}", *argv]
        if baseline:  # in the same exec as the command: one round trip fewer per run
            wrapped = [
                "bash",
                "-c",
                f'{{ {_BASELINE}; }} >/dev/null 2>&1 || touch {_NO_BASELINE}; exec "$@"',
                "repomind-run",
                *wrapped,
            ]
        exec_id = api.exec_create(container.id, wrapped, environment=env, workdir=WORKDIR, user="1000:1000")
        out, err = CappedBuffer(limits.output_bytes), CappedBuffer(limits.output_bytes)
        watchdog = threading.Timer(limits.timeout_s + HOST_GRACE_S, after.kill_quietly, args=(container,))
        watchdog.daemon = True
        start = time.monotonic()
        watchdog.start()
        try:
            for chunk_out, chunk_err in api.exec_start(exec_id, stream=True, demux=True):
                if chunk_out:
                    out.write(chunk_out)
                if chunk_err:
                    err.write(chunk_err)
        finally:
            watchdog.cancel()
        duration = time.monotonic() - start
        container.reload()
        exit_code = api.exec_inspect(exec_id)["ExitCode"]
        if exit_code is None:  # the host watchdog killed the container
            exit_code = 137
        stderr = err.text()
        if exit_code == 127 and stderr.startswith("timeout: failed to run command"):
            raise CommandNotFoundError(f"command not found in the sandbox: {argv[0]}", output=stderr)
        if exit_code == 126 and stderr.startswith("timeout: failed to run command"):
            raise CommandNotFoundError(f"command cannot be executed in the sandbox: {argv[0]}", output=stderr)
        timed_out = exit_code in (124, 137) and duration >= limits.timeout_s * 0.99
        outcome = Outcome.OK if exit_code == 0 else Outcome.TIMEOUT if timed_out else Outcome.FAILED
        return ExecResult(
            command=argv,
            exit_code=exit_code,
            stdout=out.text(),
            stderr=stderr,
            duration_s=duration,
            outcome=outcome,
            stdout_dropped=out.dropped,
            stderr_dropped=err.dropped,
        )


def _remove(container: Any) -> None:
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True, v=True)
