"""Real PostgreSQL, Redis and Chroma servers for tests, started from binaries in a temporary folder.

``scripts/provision-services.sh`` installs the first two (Debian's ``postgresql`` and ``redis-server``);
``chroma`` comes with the chromadb package. PostgreSQL
refuses to run as root, so under root the cluster belongs to the ``postgres`` user and its commands run
through ``runuser``. Each server listens on a free loopback port and is stopped on exit.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from repomind.sandbox.hostenv import clean_env


class ServiceUnavailable(RuntimeError):
    """The server's binaries are not installed here."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on {port} within {timeout_s}s: {log.read_text()}")


def _stop(proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Terminate ``proc`` (when started), killing it after ``timeout_s``."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()


def _postgres_bin() -> Path:
    for candidate in [shutil.which("initdb"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))]:
        if candidate:
            return Path(candidate).resolve().parent
    raise ServiceUnavailable("PostgreSQL is not installed (initdb not found)")


class PostgresServer:
    """A throwaway PostgreSQL cluster; ``url`` is a SQLAlchemy URL (psycopg) to its ``postgres`` database.

    Under root the cluster lives in a fresh folder of the system's temporary directory (the ``postgres``
    user must reach it, which a test's private temporary folder does not allow) and is removed on exit.
    """

    def __init__(self, folder: Path) -> None:
        self.bin = _postgres_bin()
        self._owned = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="repomind-postgres-")) if self._owned else folder
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._databases = 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self, prefix: str) -> str:
        """A new, empty database on this cluster (named ``<prefix>_<n>``); its SQLAlchemy URL."""
        from sqlalchemy import create_engine, text

        self._databases += 1
        name = f"{prefix}_{self._databases}"
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def __enter__(self) -> Self:
        data = self.folder / "data"
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._owned:
            shutil.chown(self.folder, "postgres")
        init = subprocess.run(
            self._as_owner(
                [str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            capture_output=True,
            text=True,
            check=False,
            env=clean_env(),
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
        log = self.folder / "postgres.log"
        argv = [str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port), "-h", "127.0.0.1"]
        argv += ["-k", str(self.folder), "-c", "fsync=off", "-c", "max_connections=50"]
        with log.open("wb") as out:
            self._proc = subprocess.Popen(
                self._as_owner(argv), stdout=out, stderr=subprocess.STDOUT, env=clean_env()
            )
        _wait_for_port(self.port, 60, self._proc, log)
        self._wait_until_ready(60, log)
        return self

    def _wait_until_ready(self, timeout_s: float, log: Path) -> None:
        """The port opens before the cluster accepts connections ("the database system is starting up")."""
        deadline = time.monotonic() + timeout_s
        argv = [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        while time.monotonic() < deadline:
            if subprocess.run(argv, capture_output=True, check=False, env=clean_env()).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not become ready within {timeout_s}s: {log.read_text()}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _stop(self._proc, 30)
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)


class _LoopbackServer:
    """A server process on a free loopback port, its output in ``folder/<name>.log``; stopped on exit."""

    name = ""
    #: Seconds the port may take to answer after the start.
    start_timeout_s = 30.0

    def __init__(self, folder: Path, binary: str) -> None:
        self.binary = binary
        self.folder = folder
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / f"{self.name}.log"
        with log.open("wb") as out:
            self._proc = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT, env=clean_env())
        _wait_for_port(self.port, self.start_timeout_s, self._proc, log)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _stop(self._proc, 10)


class RedisServer(_LoopbackServer):
    """A throwaway redis-server without persistence; ``url`` is ``redis://127.0.0.1:PORT/0``."""

    name = "redis"

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("redis-server is not installed")
        super().__init__(folder, binary)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        return [*argv, "no", "--dir", str(self.folder)]


class ChromaServer(_LoopbackServer):
    """A throwaway Chroma server (chromadb's own ``chroma run``) storing under ``folder``."""

    name = "chroma"
    start_timeout_s = 60.0

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
        if binary is None:
            raise ServiceUnavailable("the chroma command (chromadb) is not installed")
        super().__init__(folder, binary)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        argv = [self.binary, "run", "--path", str(self.folder / "data"), "--host", "127.0.0.1"]
        return [*argv, "--port", str(self.port)]
