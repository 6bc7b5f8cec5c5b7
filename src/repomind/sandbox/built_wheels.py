"""Wheels built in a setup container, copied out to the host as files (untrusted: checked, capped).

Only regular files whose name is a valid wheel file name are kept, under their base name, up to
:data:`MAX_BYTES` in all; links, directories, devices and anything else in the archive are skipped.
The host never runs or imports them: uv reads their metadata when it resolves, and pip installs them
inside the sandbox.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from repomind.sandbox.errors import EnvironmentSetupError

#: The most the host copies out of one build (all wheels together).
MAX_BYTES = 512 * 2**20


def copy_out(container: Any, path: str, out: Path) -> list[Path]:
    """The wheels under ``path`` in the (stopped) ``container``, written into ``out``."""
    import docker

    try:
        stream, _stat = container.get_archive(path)
    except docker.errors.NotFound:
        return []
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as buf:
        size = 0
        for chunk in stream:
            size += len(chunk)
            if size > MAX_BYTES:
                raise EnvironmentSetupError(f"the wheels built in the sandbox exceed {MAX_BYTES >> 20} MiB")
            buf.write(chunk)
        buf.seek(0)
        return extract(buf, out)


def extract(archive: Any, out: Path) -> list[Path]:
    """The wheel files of a tar archive (a file object), each written into ``out`` by its base name."""
    written: list[Path] = []
    with tarfile.open(fileobj=archive, mode="r|") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if not member.isreg() or not name.endswith(".whl") or name.startswith("."):
                continue
            try:
                parse_wheel_filename(name)
            except InvalidWheelFilename:
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            target = out / name
            target.write_bytes(handle.read(MAX_BYTES))
            written.append(target)
    return written
