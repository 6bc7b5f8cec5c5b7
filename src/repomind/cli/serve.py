"""`repomind serve`: the web app, with a worker process beside it unless ``--no-worker``.

The worker is a child process (``repomind worker``), not threads of the web process: the queue and the
ledger are shared through the store either way, and a worker that parses GitHub's replies and runs the
pipeline must not hold the interpreter lock while the web process acknowledges deliveries (with worker
threads, the p99 acknowledgement under load was over 100 ms; with a process beside it, see the README).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import click

from repomind import log
from repomind.cli.context import Context, pass_ctx

RESTART_DELAY_S = 1.0


class WorkerProcess:
    """``repomind worker`` as a supervised child: restarted when it dies, stopped (SIGTERM, then a
    graceful wait) when the server stops."""

    def __init__(self, argv: list[str], env: dict[str, str], *, grace_s: float = 30.0) -> None:
        self.argv = argv
        self.env = env
        self.grace_s = grace_s
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
        self._log = log.get_logger("repomind.serve")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self._proc = subprocess.Popen(self.argv, env=self.env)
                self._log.info("worker process started", pid=self._proc.pid)

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            if proc is None:
                return
            code = proc.wait()
            if self._stopping.is_set():
                return
            self.restarts += 1
            self._log.error("worker process exited; restarting", pid=proc.pid, exit_code=code)
            if self._stopping.wait(RESTART_DELAY_S):
                return
            self._spawn()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # the worker finishes its running tasks and exits
        try:
            proc.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            self._log.warning("worker process did not stop in time; killing it", pid=proc.pid)
            proc.kill()
            proc.wait()
        self._log.info("worker process stopped", pid=proc.pid, restarts=self.restarts)


def worker_argv() -> list[str]:
    """The command line of the worker child, with the root group's log options of this invocation."""
    root = click.get_current_context().find_root().params
    argv = [sys.executable, "-m", "repomind"]
    if root.get("log_format"):
        argv += ["--log-format", str(root["log_format"])]
    if root.get("log_level"):
        argv += ["--log-level", str(root["log_level"])]
    return [*argv, "worker", "--parent-pid", str(os.getpid())]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-worker", is_flag=True, help="Only receive webhooks; run `repomind worker` elsewhere.")
@pass_ctx
def serve(ctx: Context, host: str, port: int, no_worker: bool) -> None:
    """Serve the web app: webhooks, the setup page, run pages, /metrics and /healthz."""
    import uvicorn

    from repomind.server.app import Mode, create_app, mode_for

    # The worker starts and stops with the app's lifespan: uvicorn re-raises the signal that stopped it
    # once the app has shut down, so code after ``uvicorn.run`` would never run.
    child = None
    if not no_worker and mode_for(ctx.settings) is Mode.READY:
        child = WorkerProcess(worker_argv(), dict(os.environ))
    app = create_app(ctx.settings, companions=[child] if child is not None else [])
    log.get_logger("repomind.serve").info(
        "serving", host=host, port=port, mode=app.state.mode.value, worker=child is not None
    )
    if app.state.setup_token is not None:
        # Only whoever reads this console can register the app (printed, never logged).
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        local = f"[{local}]" if ":" in local else local
        base = (ctx.settings.public_url or f"http://{local}:{port}").rstrip("/")
        click.echo(
            f"Setup mode: register the GitHub App at {base}/setup?token={app.state.setup_token}", err=True
        )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
