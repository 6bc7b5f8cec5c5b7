"""Comment commands: ``/repomind <command> [arguments]``, one per comment (the first one found)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

PREFIX = "/repomind"
_LINE = re.compile(r"^\s*/repomind(?:\s+(?P<rest>.*))?$", re.IGNORECASE)


class Verb(enum.StrEnum):
    FIX = "fix"
    RETRY = "retry"
    REVISE = "revise"
    FILES = "files"
    INCLUDE = "include"
    EXCLUDE = "exclude"
    EXPLAIN = "explain"
    STATUS = "status"
    CANCEL = "cancel"
    HELP = "help"

    @property
    def starts_job(self) -> bool:
        return self in (Verb.FIX, Verb.RETRY, Verb.REVISE)


#: Shown at the end of every bot comment.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("fix [--anyway]", "start a run (`--anyway` acts even when the file set is wide)"),
    ("retry [hint]", "run again, with an optional hint"),
    ("revise <feedback>", "continue from the PR branch with your feedback"),
    ("files", "show the calibrated file set"),
    ("include PATH / exclude PATH", "pin the localisation"),
    ("explain", "say what the last run did and why"),
    ("status", "show the state of this issue's runs"),
    ("cancel", "stop the running job at its next stage"),
    ("help", "show this list"),
)


@dataclass(frozen=True)
class Command:
    verb: Verb
    argument: str = ""
    anyway: bool = False


class CommandError(ValueError):
    """A ``/repomind`` line that is not a valid command; the message says what is accepted."""


def parse(body: str) -> Command | None:
    """The command in a comment body, None when it has none; :class:`CommandError` when it is malformed.

    Only lines that start with ``/repomind`` count, outside fenced code blocks and quotes, so that a
    comment quoting a command or showing it in an example does not run it.
    """
    in_fence = False
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("```") or stripped.startswith("~~~"):
            in_fence = not in_fence
            continue
        if in_fence or stripped.startswith(">"):
            continue
        match = _LINE.match(line)
        if match:
            return _command((match.group("rest") or "").strip())
    return None


def _command(rest: str) -> Command:
    word, _, argument = rest.partition(" ")
    argument = argument.strip()
    try:
        verb = Verb(word.lower())
    except ValueError:
        known = ", ".join(v.value for v in Verb)
        raise CommandError(f"unknown command `{word or '(none)'}`; the commands are: {known}") from None
    if verb is Verb.FIX:
        flags = argument.split()
        if any(f != "--anyway" for f in flags):
            raise CommandError("`fix` takes only `--anyway`")
        return Command(verb, anyway="--anyway" in flags)
    if verb in (Verb.REVISE, Verb.INCLUDE, Verb.EXCLUDE) and not argument:
        what = "your feedback" if verb is Verb.REVISE else "a path"
        raise CommandError(f"`{verb.value}` needs {what}")
    if verb in (Verb.INCLUDE, Verb.EXCLUDE):
        argument = _clean_path(argument)
    if verb in (Verb.FILES, Verb.EXPLAIN, Verb.STATUS, Verb.CANCEL, Verb.HELP):
        argument = ""
    return Command(verb, argument)


def _clean_path(path: str) -> str:
    path = path.strip("`'\" ").removeprefix("./")
    if not path or path.startswith("/") or ".." in path.split("/") or " " in path:
        raise CommandError(f"`{path}` is not a repository-relative path")
    return path
