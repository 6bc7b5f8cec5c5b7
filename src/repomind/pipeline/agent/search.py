"""``search``: a regex over the contents and the names of the work tree's files, with ``git grep``.

The regex and the glob come from a model that read hostile issue text. They are passed as data only
(``-e REGEX``, ``-- :(glob)GLOB``), never where git reads options; git runs with the host's scrubbed
environment (:func:`repomind.sandbox.hostenv.git_env`), a timeout and a cap on what it may print. git grep
reads the tracked files (and, with ``--untracked``, the new ones that are not ignored) from the work
tree and never follows a symbolic link, so a committed ``leak -> /etc/passwd`` is searched as nothing.

Perl-compatible regexes (``-P``) are used where git was built with them, extended ones (``-E``) elsewhere.
File names are matched by the same engine: ``git grep --no-index`` over a list of the names.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from repomind.sandbox.hostenv import git_env

#: Matches kept of each kind; the rest are counted.
LIMIT = 100
#: A matched line longer than this is cut.
LINE_CHARS = 200
TIMEOUT_S = 10.0
#: Output read from git before it is stopped (what is beyond is neither kept nor counted).
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
_CONFIG = ("-c", "submodule.recurse=false", "-c", "color.grep=never", "-c", "grep.lineNumber=false")
_OPTIONS = ("--no-color", "--no-column", "--no-textconv", "-I")
_NO_PCRE = ("USE_LIBPCRE", "not compiled with", "cannot use Perl-compatible")


class SearchError(Exception):
    """git refused the regex or the glob, or ran past its time; ``str`` says why, for the model."""


@dataclass
class Found:
    """What one git grep found: the first ``LIMIT`` records, the count of all, whether it was cut short."""

    kept: list[bytes] = field(default_factory=list)
    total: int = 0
    incomplete: bool = False


@dataclass
class Grep:
    """git grep over one work tree; remembers when the regex engine had to fall back to ``-E``."""

    tree: Path
    timeout_s: float = TIMEOUT_S
    engine: str = "-P"

    def contents(self, regex: str, glob: str | None) -> Found:
        """Matching lines as ``path NUL line NUL text`` records (see :func:`content_record`)."""
        args = ["grep", "-z", "-n", "--untracked", *_OPTIONS]
        return self._run(["git", *_CONFIG, "-C", str(self.tree), *args], regex, _pathspec(glob), self.tree)

    def names(self, regex: str, glob: str | None) -> Found:
        """Paths of tracked and new files (under ``glob``) that ``regex`` matches."""
        listing = ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *_pathspec(glob)]
        try:
            listed = subprocess.run(
                ["git", "-C", str(self.tree), *listing],
                capture_output=True,
                check=False,
                env=git_env(),
                timeout=self.timeout_s,
            )
        except subprocess.TimeoutExpired:
            raise SearchError(f"listing the files ran past {self.timeout_s:g} s") from None
        if listed.returncode != 0:
            raise SearchError(_message(listed.stderr))
        paths = dict.fromkeys(p for p in listed.stdout.split(b"\0") if p and b"\n" not in p)
        with tempfile.TemporaryDirectory(prefix="repomind-names-") as tmp:
            (Path(tmp) / "names").write_bytes(b"".join(p + b"\n" for p in paths))
            argv = ["git", *_CONFIG, "-C", tmp, "grep", "--no-index", "-h", *_OPTIONS]
            return self._run(argv, regex, ["names"], Path(tmp))

    def _run(self, argv: list[str], regex: str, spec: list[str], cwd: Path) -> Found:
        try:
            return _stream([*argv, self.engine, "-e", regex, "--", *spec], self.timeout_s)
        except SearchError as exc:
            if self.engine == "-P" and any(s in str(exc) for s in _NO_PCRE):
                self.engine = "-E"
                return _stream([*argv, self.engine, "-e", regex, "--", *spec], self.timeout_s)
            raise


def content_record(record: bytes) -> tuple[str, int, str]:
    """``(path, line, text)`` of one ``git grep -z -n`` record, the text cut at ``LINE_CHARS``."""
    path, _, rest = record.partition(b"\0")
    number, _, text = rest.partition(b"\0")
    line = text.decode("utf-8", "replace").rstrip("\r")
    if len(line) > LINE_CHARS:
        line = line[:LINE_CHARS] + " [...]"
    return path.decode("utf-8", "replace"), int(number) if number.isdigit() else 0, line


def heading(kind: str, shown: int, total: int, incomplete: bool) -> str:
    """The line above one kind of matches: how many, and how many were left out."""
    if not total:
        return f"No {kind} match."
    more = "at least " if incomplete else ""
    left = f" (the first {shown} shown, {more}{total - shown} left out)" if total > shown else ""
    return f"{more}{total} {kind} match{left}:"


def usable_glob(glob: object) -> bool:
    """A glob inside the tree: not absolute, no ``..``, no pathspec magic of its own (``:(exclude)``)."""
    if not isinstance(glob, str) or not glob.strip() or "\0" in glob or "\n" in glob:
        return False
    return not glob.startswith(("/", "~", ":")) and ".." not in glob.split("/")


def _pathspec(glob: str | None) -> list[str]:
    return [f":(glob){glob}"] if glob else []


def _message(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    lines = [line.removeprefix("fatal: ").removeprefix("error: ") for line in text.splitlines() if line]
    return "; ".join(lines)[:500] or "git grep failed"


def _stream(argv: list[str], timeout_s: float) -> Found:
    """Run git grep, keeping the first ``LIMIT`` output records and counting the rest."""
    found = Found()
    killed = threading.Event()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=git_env())

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        stdout = proc.stdout
        if stdout is None:  # pragma: no cover - stdout=PIPE always gives one
            raise SearchError("git grep gave no output stream")
        try:
            pending, read = b"", 0
            while chunk := stdout.read(1 << 16):
                read += len(chunk)
                if len(found.kept) < LIMIT:
                    records = (pending + chunk).split(b"\n")
                    pending = records.pop()
                    room = LIMIT - len(found.kept)
                    found.kept.extend(records[:room])
                    found.total += len(records)
                    if len(records) > room:
                        pending = b""
                else:
                    found.total += chunk.count(b"\n")
                if read > MAX_OUTPUT_BYTES:
                    found.incomplete = True
                    proc.kill()
                    break
            code = proc.wait()
        finally:
            timer.cancel()
            stdout.close()
        if killed.is_set():
            raise SearchError(f"the search ran past {timeout_s:g} s and was stopped: use a simpler regex")
        if code not in (0, 1) and not found.incomplete:
            err.seek(0)
            raise SearchError(_message(err.read()))
    return found
