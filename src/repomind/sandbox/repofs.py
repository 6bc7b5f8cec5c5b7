"""The one way the host reads a repository's files: never through a symlink.

A checked-out repository is hostile content. A committed symlink (``AGENTS.md -> /proc/self/environ``,
``pyproject.toml -> ~/.config/repomind/key.pem``) must not make the host read a file outside the work tree
and hand it to a prompt, an artifact, a log or pip. Every host-side read of repository content goes through
this module: each path component is opened relative to its parent with ``O_NOFOLLOW``, so a path that is,
or passes through, a symlink is refused, and only regular files are read (not FIFOs or devices, which
could block or leak).

The root itself is trusted (the caller made it); only what lies below it is checked. This module lives in
the sandbox package because the sandbox, which imports nothing else of Repomind, reads dependency files too;
the pipeline and the bot import it from here.
"""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path, PurePosixPath

from repomind.sandbox.errors import SandboxError

#: The most that one read returns unless the caller asks for more (a hostile repository can commit a
#: multi-gigabyte file).
DEFAULT_MAX_BYTES = 8 * 1024 * 1024


class UnsafePathError(SandboxError):
    """A repository path that is absolute, escapes the root, or is (or passes through) a symlink."""


def _parts(relpath: str | PurePosixPath) -> list[str]:
    text = str(relpath).replace("\\", "/")
    if text.startswith("/"):
        raise UnsafePathError(f"{text}: an absolute path is not a repository path")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"{text!r}: not a file path")
    if ".." in parts:
        raise UnsafePathError(f"{text}: a repository path may not contain '..'")
    return parts


def _open(root: Path, relpath: str | PurePosixPath) -> int:
    """An fd for the regular file at ``root/relpath``, reached without following any symlink.

    Raises :class:`FileNotFoundError` when it does not exist, :class:`UnsafePathError` when it is not a
    regular file or the path passes through a symlink.
    """
    parts = _parts(relpath)
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, part in enumerate(parts[:-1]):
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError as exc:
                if _is_symlink(dir_fd, part):
                    raise UnsafePathError(f"{'/'.join(parts[: i + 1])} is a symlink: not followed") from exc
                if isinstance(exc, FileNotFoundError | NotADirectoryError):
                    raise FileNotFoundError(str(relpath)) from exc
                raise
            os.close(dir_fd)
            dir_fd = nxt
        name = parts[-1]
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError as exc:
            if _is_symlink(dir_fd, name):
                raise UnsafePathError(f"{'/'.join(parts)} is a symlink: not followed") from exc
            if isinstance(exc, FileNotFoundError | NotADirectoryError):
                raise FileNotFoundError(str(relpath)) from exc
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UnsafePathError(f"{'/'.join(parts)} is not a regular file")
        return fd
    finally:
        os.close(dir_fd)


def _is_symlink(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def read_bytes(root: Path, relpath: str | PurePosixPath, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The first ``max_bytes`` of a regular file under ``root``; never through a symlink.

    Raises :class:`FileNotFoundError` or :class:`UnsafePathError`.
    """
    fd = _open(root, relpath)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(max_bytes)


def read_text(
    root: Path, relpath: str | PurePosixPath, *, max_bytes: int = DEFAULT_MAX_BYTES, errors: str = "replace"
) -> str:
    """:func:`read_bytes` decoded as UTF-8 (undecodable bytes replaced unless ``errors`` says otherwise)."""
    return read_bytes(root, relpath, max_bytes=max_bytes).decode("utf-8", errors=errors)


def read_text_or_none(
    root: Path, relpath: str | PurePosixPath, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> str | None:
    """:func:`read_text`, or ``None`` for a file that is missing, a symlink, behind one, or not regular."""
    try:
        return read_text(root, relpath, max_bytes=max_bytes)
    except (OSError, UnsafePathError):
        return None


def list_dir(root: Path, relpath: str | PurePosixPath = "", *, limit: int = 10_000) -> list[tuple[str, str]]:
    """The entries of the directory ``root/relpath`` (``""``: the root) as ``(name, kind)``, kind ``"file"``
    (a regular file), ``"dir"`` or ``"other"`` (a symlink, a device...), at most ``limit`` of them; reached
    without following any symlink. Raises :class:`FileNotFoundError` or :class:`UnsafePathError`."""
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in _parts(relpath) if str(relpath) not in ("", ".") else []:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError as exc:
                if _is_symlink(dir_fd, part):
                    raise UnsafePathError(f"{relpath}: {part} is a symlink: not followed") from exc
                raise FileNotFoundError(str(relpath)) from exc
            os.close(dir_fd)
            dir_fd = nxt
        out: list[tuple[str, str]] = []
        with os.scandir(dir_fd) as entries:  # scandir reads a duplicate of the descriptor
            for entry in itertools.islice(entries, limit):
                kinds = {stat.S_IFREG: "file", stat.S_IFDIR: "dir"}
                mode = entry.stat(follow_symlinks=False).st_mode
                out.append((entry.name, kinds.get(stat.S_IFMT(mode), "other")))
        return out
    finally:
        os.close(dir_fd)


def is_regular_file(root: Path, relpath: str | PurePosixPath) -> bool:
    """Whether ``root/relpath`` is a regular file reached without following a symlink."""
    try:
        os.close(_open(root, relpath))
    except (OSError, UnsafePathError):
        return False
    return True
