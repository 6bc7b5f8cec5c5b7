"""The setup container: where a repository's build backend and install run, confined like a test run.

It runs as the unprivileged sandbox user with every capability dropped, ``no-new-privileges``, the run's
CPU, memory and pids limits, a timeout, no network unless the spec asks for it, and nothing of the host
mounted: the work tree and the wheelhouse are copied in. Its root stays writable only because the
environment is committed from it as an image.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from packaging.utils import parse_sdist_filename

from repomind.sandbox import built_wheels
from repomind.sandbox import metadata as project_metadata
from repomind.sandbox.client import LABEL, container_labels
from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.limits import Limits
from repomind.sandbox.output import CappedBuffer
from repomind.sandbox.setup_plan import COMPAT_EDITABLE, ProjectMetadata, SetupPlan
from repomind.sandbox.types import EnvironmentSpec
from repomind.sandbox.worktree import SANDBOX_GID, SANDBOX_UID, pack, pack_directory

ENV_REPOSITORY = "repomind-env"
KEY_LABEL = "org.repomind.env-key"
VENV = "/opt/venv"
USER = f"{SANDBOX_UID}:{SANDBOX_GID}"
#: What of the setup's output is kept (head and tail); the error that carries it caps it further.
LOG_BYTES = 256 * 1024
#: Where wheels built from sdists are left in the container.
BUILT = "/tmp/built"
_RUNTIME_CHANGES = (
    f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    f"ENV VIRTUAL_ENV={VENV}",
    "ENV PIP_NO_INDEX=1",
    "USER sandbox",
    "WORKDIR /work",
    'CMD ["bash"]',
)


class SetupBox:
    """Runs the setup steps of one environment, each in a fresh confined container."""

    def __init__(
        self,
        client: Any,
        image: str,
        work_tree: Path,
        spec: EnvironmentSpec,
        limits: Limits,
        timeout_s: float,
        version: str,
    ) -> None:
        self.client, self.image, self.work_tree, self.spec = client, image, work_tree, spec
        self.limits, self.timeout_s, self.version = limits, timeout_s, version

    def metadata(self, wheels: Path, pins: Sequence[str]) -> ProjectMetadata:
        """The project's name, ``Requires-Dist`` and extras, from its own build backend (no network)."""
        script = project_metadata.script(self._prelude(pins, network=False))
        container = self._create(script, network=False)
        try:
            status, output = self._run(container, wheels, "building the project's metadata")
            if status != 0:
                raise EnvironmentSetupError(
                    f"building the metadata of {self.spec.repo_name} failed with exit status {status}",
                    output=output,
                )
            return project_metadata.parse(output)
        finally:
            _remove(container)

    def build_wheels(
        self, wheels: Path, pins: Sequence[str], sdists: Sequence[Path], out: Path
    ) -> list[Path]:
        """Build wheels of ``sdists`` (files fetched from the index) with pip, no network, each in an
        isolated build environment filled from the wheelhouse; the wheels are copied into ``out``."""
        targets = shlex.join(f"/tmp/sdists/{p.name}" for p in sdists)
        script = "\n".join(
            [
                self._prelude(pins, network=False),
                "unset PIP_NO_BUILD_ISOLATION",
                f"cd /tmp && python -m pip wheel --no-deps --no-index -w {BUILT} {targets}",
            ]
        )
        container = self._create(script, network=False)
        names = ", ".join(p.name for p in sdists)
        try:
            with tempfile.TemporaryDirectory(prefix="repomind-sdists-") as tmp:
                for sdist in sdists:
                    shutil.copyfile(sdist, Path(tmp, sdist.name))
                with pack_directory(Path(tmp), arcname="sdists", owner=(SANDBOX_UID, SANDBOX_GID)) as files:
                    status, output = self._run(container, wheels, f"building {names}", [("/tmp", files)])
            if status != 0:
                raise EnvironmentSetupError(
                    f"building {names} in the sandbox failed with exit status {status}", output=output
                )
            wheels_out = built_wheels.copy_out(container, BUILT, out)
            asked = [parse_sdist_filename(p.name)[0] for p in sdists]
            try:
                for wheel in wheels_out:
                    built_wheels.check_metadata(wheel, asked)
            except EnvironmentSetupError:
                for wheel in wheels_out:
                    wheel.unlink(missing_ok=True)
                raise
            return wheels_out
        finally:
            _remove(container)

    def install(self, wheels: Path, pins: Sequence[str], plan: SetupPlan, tag: str, key: str) -> str:
        """Install the environment and commit it as ``tag``; the setup's output."""
        container = self._create(self._install_script(pins, plan), network=self.spec.network)
        try:
            status, output = self._run(container, wheels, f"setting up {self.spec.repo_name}")
            if status != 0:
                raise EnvironmentSetupError(
                    f"setting up {self.spec.repo_name} failed with exit status {status} while running "
                    f"`{plan.describe()}`",
                    output=output,
                )
            changes = [*_RUNTIME_CHANGES, f"LABEL {LABEL}=env", f"LABEL {KEY_LABEL}={key}"]
            repository, _, version = tag.partition(":")
            container.commit(repository=repository, tag=version, changes=changes)
            return output
        finally:
            _remove(container)

    # -- internals ---------------------------------------------------------------------------------

    def _prelude(self, pins: Sequence[str], *, network: bool) -> str:
        """A venv with pip and the build requirements (as resolved for the commit's date) installed."""
        pip = [p for p in pins if p.lower().startswith("pip==")]
        return "\n".join(
            [
                "set -eu",
                "export HOME=/tmp PIP_FIND_LINKS=/tmp/wheelhouse PIP_DISABLE_PIP_VERSION_CHECK=1",
                "export PIP_PROGRESS_BAR=off PIP_NO_BUILD_ISOLATION=0",  # sic: pip reads 0 as "no isolation"
                f"export SETUPTOOLS_SCM_PRETEND_VERSION={shlex.quote(self.version)}",
                "" if network else "export PIP_NO_INDEX=1",
                f"python3 -m venv {VENV}",
                f". {VENV}/bin/activate",
                *([f"python -m pip install --quiet --no-index --upgrade {shlex.join(pip)}"] if pip else []),
                f"python -m pip install --quiet --no-index {shlex.join(pins)}" if pins else "",
            ]
        )

    def _install_script(self, pins: Sequence[str], plan: SetupPlan) -> str:
        args = list(plan.pip_args)
        compat = " ".join(COMPAT_EDITABLE)
        if compat in " ".join(args):
            # ``editable_mode=compat`` needs a setuptools with PEP 660 (64+); an older one (an old commit's)
            # falls back to ``setup.py develop``, which puts the project on sys.path anyway.
            args = " ".join(args).replace(compat, "").split()
            args_text = shlex.join(args)
            old = (
                "python -c 'import setuptools,sys; "
                'sys.exit(int(setuptools.__version__.split(".")[0]) < 64)\''
            )
            install = (
                f"if {old} 2>/dev/null; then EXTRA={shlex.quote(compat)}; else EXTRA=; fi\n"
                f"pip install --no-build-isolation {args_text} $EXTRA"
            )
        else:
            install = "pip install --no-build-isolation " + shlex.join(args)
        if plan.custom_command:
            install = plan.custom_command
        keep = "cd / && rm -rf /tmp/wheelhouse"
        # The copied sources go; what the setup generated stays (pytest's setuptools-scm
        # ``_version.py``, compiled extensions, egg-info): each run's copy is laid over it.
        listed = "cd /work && find . -mindepth 1 ! -type d -print0 > /tmp/repomind-copied"
        drop = (
            "cd /work && xargs -0 rm -f < /tmp/repomind-copied && "
            "find /work -mindepth 1 -depth -type d -empty -delete; cd / && rm -rf /tmp/wheelhouse"
        )
        return "\n".join(
            [
                self._prelude(pins, network=self.spec.network),
                listed,
                "cd /work",
                install,
                keep if self.spec.keep_work_tree else drop,
            ]
        )

    def _create(self, script: str, *, network: bool) -> Any:
        return self.client.containers.create(
            self.image,
            ["bash", "-c", script],
            user=USER,
            working_dir="/work",
            network_mode="bridge" if network else "none",
            labels=container_labels("setup"),
            environment={"HOME": "/tmp"},
            **self.limits.confinement(),
        )

    def _run(
        self, container: Any, wheels: Path, what: str, extra: Sequence[tuple[str, IO[bytes]]] = ()
    ) -> tuple[int, str]:
        import requests

        with pack(self.work_tree) as tree:
            container.put_archive("/work", tree)
        for where, archive in extra:
            container.put_archive(where, archive)
        container.put_archive("/opt", _owned_dir("venv"))
        with pack_directory(wheels, arcname="wheelhouse", owner=(SANDBOX_UID, SANDBOX_GID)) as wh:
            container.put_archive("/tmp", wh)
        container.start()
        try:
            status = int(container.wait(timeout=self.timeout_s)["StatusCode"])
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            container.kill()
            raise EnvironmentSetupError(
                f"{what} timed out after {self.timeout_s:.0f} s", output=_logs(container)
            ) from None
        return status, _logs(container)


def _owned_dir(name: str) -> io.BytesIO:
    """A tar holding one empty directory owned by the sandbox user (the venv's home under ``/opt``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        info.uid, info.gid = SANDBOX_UID, SANDBOX_GID
        tar.addfile(info)
    buf.seek(0)
    return buf


def _logs(container: Any) -> str:
    buf = CappedBuffer(LOG_BYTES)
    buf.write(container.logs(stdout=True, stderr=True))
    return buf.text()


def _remove(container: Any) -> None:
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True, v=True)
