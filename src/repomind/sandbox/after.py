"""The steps after a sandboxed command: the OOM probe, reading files back, the diff of the work copy.

The command has run the repository's code in the container, and it may have left behind whatever makes
these steps slow or huge: a git filter or fsmonitor in ``/work/.git/config``, a ``~/.gitconfig``, a
gigantic generated file, a FIFO or a link to ``/dev/zero`` where a report is expected. So each step runs
under ``timeout -s KILL`` in the container (which kills its whole process group), behind a host watchdog
that kills the container when even that does not end it, and at most ``cap`` bytes of its output are read.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from repomind.sandbox.limits import Limits

#: Extra seconds after the in-container timeout before the host kills the whole container.
HOST_GRACE_S = 10.0
SANDBOX_USER = "1000:1000"
#: git sees no global configuration (``HOME`` is the writable ``/tmp``) and none of the system's.
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0"}
#: What a local configuration the command wrote can switch on and a command line can switch off again.
_GIT = (
    "git -c core.fsmonitor=false -c core.hooksPath=/dev/null -c core.untrackedCache=false"
    " -c diff.external= -c core.pager=cat"
)
NO_BASELINE = "/tmp/.repomind-no-baseline"
DIFF_SCRIPT = (
    f"test ! -e {NO_BASELINE} && cd /work && {_GIT} add -A"
    f" && {_GIT} diff --cached --binary --no-color --no-ext-diff --no-textconv HEAD"
)
_READ_SCRIPT = '[ -e "$1" ] || exit 3; exec head -c "$2" -- "$1"'
_MISSING = 3
_OOM_SCRIPT = (
    "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null"
    " | awk '/^oom_kill /{n+=$2} END{print \"oom_kill=\" n+0}'"
)
_PROBE_CAP = 4096


@dataclass(frozen=True)
class Readback:
    """What one step after the command printed (at most the cap), and how it ended."""

    exit_code: int | None  # None: it was still running when reading stopped, or the container was killed
    data: bytes
    over_cap: bool = False
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.over_cap and not self.timed_out


def bounded_exec(
    client: Any, container: Any, argv: list[str], env: dict[str, str], *, timeout_s: float, cap: int
) -> Readback:
    """Run ``argv`` in the running ``container`` for at most ``timeout_s`` and read at most ``cap`` bytes
    of its stdout."""
    api = client.api
    wrapped = ["timeout", "-s", "KILL", f"{timeout_s:g}", *argv]
    exec_id = api.exec_create(container.id, wrapped, environment=env, workdir="/work", user=SANDBOX_USER)
    watchdog = threading.Timer(timeout_s + HOST_GRACE_S, kill_quietly, args=(container,))
    watchdog.daemon = True
    out, over = bytearray(), False
    start = time.monotonic()
    watchdog.start()
    try:
        stream = api.exec_start(exec_id, stream=True, demux=True)
        for chunk_out, _chunk_err in stream:  # stderr is read and dropped
            if chunk_out:
                out += chunk_out
            if len(out) > cap:
                over = True
                break
        with contextlib.suppress(AttributeError):
            stream.close()
    finally:
        watchdog.cancel()
    elapsed = time.monotonic() - start
    if over:
        return Readback(None, bytes(out[:cap]), over_cap=True)
    container.reload()
    code = api.exec_inspect(exec_id)["ExitCode"]
    timed_out = code is None or (code in (124, 137) and elapsed >= timeout_s * 0.99)
    return Readback(code, bytes(out), timed_out=timed_out)


def read_file(
    client: Any, container: Any, path: str, limits: Limits, env: dict[str, str]
) -> tuple[bytes | None, str | None]:
    """``(content, None)``; ``(None, None)`` when ``path`` does not exist; ``(None, why)`` otherwise."""
    cap = limits.readback_bytes
    argv = ["sh", "-c", _READ_SCRIPT, "read", path, str(cap + 1)]
    got = bounded_exec(client, container, argv, env, timeout_s=limits.after_timeout_s, cap=cap)
    if got.over_cap:
        return None, f"{path} is larger than {cap} bytes: not read"
    if got.timed_out:
        return None, f"{path} could not be read: it took longer than {limits.after_timeout_s:g} s"
    if got.exit_code == _MISSING:
        return None, None
    if got.exit_code != 0:
        return None, f"{path} could not be read (exit status {got.exit_code})"
    return got.data, None


def read_diff(
    client: Any, container: Any, limits: Limits, env: dict[str, str]
) -> tuple[str | None, str | None]:
    """``(diff, None)``, or ``(None, why)`` when it is too large, too slow, or cannot be made."""
    cap = limits.readback_bytes
    argv = ["bash", "-c", DIFF_SCRIPT]
    got = bounded_exec(client, container, argv, {**env, **GIT_ENV}, timeout_s=limits.after_timeout_s, cap=cap)
    if got.over_cap:
        return None, f"the diff is larger than {cap} bytes: not captured"
    if got.timed_out:
        return None, f"the diff could not be read: it took longer than {limits.after_timeout_s:g} s"
    if got.exit_code != 0:
        return None, "the diff could not be read from the sandbox"
    return got.data.decode("utf-8", errors="replace"), None


def oom_killed(client: Any, container: Any, limits: Limits, env: dict[str, str]) -> bool:
    if container.status == "exited":
        return bool(container.attrs["State"].get("OOMKilled"))
    argv = ["bash", "-c", _OOM_SCRIPT]
    got = bounded_exec(client, container, argv, env, timeout_s=limits.after_timeout_s, cap=_PROBE_CAP)
    text = got.data.decode("utf-8", errors="replace").strip()
    return text.startswith("oom_kill=") and text.split("=")[-1] not in ("0", "")


def kill_quietly(container: Any) -> None:
    import docker

    with contextlib.suppress(docker.errors.APIError):
        container.kill()
