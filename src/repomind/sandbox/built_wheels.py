"""Wheels built in a setup container, copied out to the host as files (untrusted: checked, capped).

Only regular files whose name is a valid wheel file name are kept, under their base name, up to
:data:`MAX_BYTES` in all; links, directories, devices and anything else in the archive are skipped.
The host never runs or imports them: uv reads their metadata when it resolves, and pip installs them
inside the sandbox. Before uv sees one, its ``METADATA`` is read as data and every ``Requires-Dist`` is
checked as PEP 508 by name (:func:`check_metadata`): a wheel built from a hostile sdist cannot point uv
at a path or URL on the host.
"""

from __future__ import annotations

import email.parser
import tarfile
import tempfile
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.requirements import check

#: The most the host copies out of one build (all wheels together).
MAX_BYTES = 512 * 2**20
#: The most of a wheel's METADATA the host reads.
MAX_METADATA_BYTES = 1024 * 1024


def check_metadata(wheel: Path, names: Collection[str]) -> None:
    """The wheel is of one of ``names`` and each ``Requires-Dist`` of its METADATA is PEP 508 by name;
    ``RequirementRefusedError`` or ``EnvironmentSetupError`` otherwise (the caller drops the file)."""
    name, _version, _build, _tags = parse_wheel_filename(wheel.name)
    if name not in {canonicalize_name(n) for n in names}:
        raise EnvironmentSetupError(f"the sandbox built {wheel.name}, which was not asked for")
    try:
        with zipfile.ZipFile(wheel) as archive:
            infos = [i for i in archive.infolist() if i.filename.endswith(".dist-info/METADATA")]
            if len(infos) != 1 or infos[0].file_size > MAX_METADATA_BYTES:
                raise EnvironmentSetupError(f"{wheel.name} has no readable METADATA")
            text = archive.read(infos[0]).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile) as exc:
        raise EnvironmentSetupError(f"{wheel.name} is not a readable wheel: {exc}") from None
    message = email.parser.Parser().parsestr(text, headersonly=True)
    for line in message.get_all("Requires-Dist") or []:
        check(str(line), f"the Requires-Dist of {wheel.name} (built in the sandbox)")


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
