"""Comment commands: ``/repomind <command> [arguments]``, one per comment (the first one found)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

PREFIX = "/repomind"
_LINE = re.compile(rf"^\s*{re.escape(PREFIX)}(?:\s+(?P<rest>.*))?$", re.IGNORECASE)


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
        return SYNTAX[self].starts_job


class Argument(enum.Enum):
    """What may follow a verb."""

    NONE = "none"  # nothing; text after the verb is ignored
    FLAG = "flag"  # only the flag named by the syntax, optionally
    TEXT = "text"  # optional free text
    REQUIRED = "required"  # free text that must be there
    PATH = "path"  # one repository-relative path


@dataclass(frozen=True)
class Syntax:
    """One command of the grammar: its verb, what may follow it, and what it does (for the help list)."""

    verb: Verb
    what: str
    argument: Argument = Argument.NONE
    #: The flag (``--anyway``) or the placeholder of the argument (``hint``, ``feedback``, ``PATH``).
    name: str = ""
    #: Whether the command opens a job, and the key of the job's ``args`` its argument goes to.
    starts_job: bool = False
    job_arg: str = ""

    @property
    def usage(self) -> str:
        """The command as the help list writes it, without the prefix: ``retry [hint]``."""
        if self.argument in (Argument.FLAG, Argument.TEXT):
            return f"{self.verb.value} [{self.name}]"
        if self.argument is Argument.REQUIRED:
            return f"{self.verb.value} <{self.name}>"
        if self.argument is Argument.PATH:
            return f"{self.verb.value} {self.name}"
        return self.verb.value


#: The ``/repomind`` command language, the one place it is written down: the parser, the list of commands
#: at the end of every bot comment, the templates (``example``) and the README's table all come from it.
GRAMMAR: tuple[Syntax, ...] = (
    Syntax(
        Verb.FIX,
        "start a run (`--anyway` acts even when the file set is wide)",
        Argument.FLAG,
        "--anyway",
        starts_job=True,
        job_arg="anyway",
    ),
    Syntax(Verb.RETRY, "run again, with an optional hint", Argument.TEXT, "hint", True, "hint"),
    Syntax(
        Verb.REVISE,
        "continue from the PR branch with your feedback",
        Argument.REQUIRED,
        "feedback",
        True,
        "feedback",
    ),
    Syntax(Verb.FILES, "show the calibrated file set"),
    Syntax(Verb.INCLUDE, "pin the localisation", Argument.PATH, "PATH"),
    Syntax(Verb.EXCLUDE, "pin the localisation", Argument.PATH, "PATH"),
    Syntax(Verb.EXPLAIN, "say what the last run did and why"),
    Syntax(Verb.STATUS, "show the state of this issue's runs"),
    Syntax(Verb.CANCEL, "stop the running job at its next stage"),
    Syntax(Verb.HELP, "show this list"),
)
SYNTAX: dict[Verb, Syntax] = {s.verb: s for s in GRAMMAR}


def _listed(grammar: tuple[Syntax, ...]) -> tuple[tuple[str, str], ...]:
    """(usage, what) per line of the help list; neighbours that do the same share a line."""
    lines: list[tuple[str, str]] = []
    for syntax in grammar:
        if lines and lines[-1][1] == syntax.what:
            lines[-1] = (f"{lines[-1][0]} / {syntax.usage}", syntax.what)
        else:
            lines.append((syntax.usage, syntax.what))
    return tuple(lines)


#: Shown at the end of every bot comment.
COMMANDS: tuple[tuple[str, str], ...] = _listed(GRAMMAR)


def usage(verb: Verb | str) -> str:
    """The full usage of a command: ``/repomind retry [hint]``."""
    return f"{PREFIX} {SYNTAX[Verb(verb)].usage}"


def example(verb: Verb | str, argument: str = "") -> str:
    """A command as someone would type it: ``/repomind fix --anyway``, ``/repomind include src/app.py``."""
    return " ".join(part for part in (PREFIX, Verb(verb).value, argument) if part)


@dataclass(frozen=True)
class Command:
    verb: Verb
    argument: str = ""
    anyway: bool = False

    def job_args(self) -> dict[str, str | bool]:
        """The ``args`` of the job this command opens: its argument under the grammar's ``job_arg``."""
        syntax = SYNTAX[self.verb]
        if not syntax.job_arg:
            return {}
        if syntax.argument is Argument.FLAG:
            return {syntax.job_arg: True} if self.anyway else {}
        return {syntax.job_arg: self.argument} if self.argument else {}


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
    syntax = SYNTAX[verb]
    if syntax.argument is Argument.FLAG:
        flags = argument.split()
        if any(f != syntax.name for f in flags):
            raise CommandError(f"`{verb.value}` takes only `{syntax.name}`")
        return Command(verb, anyway=syntax.name in flags)
    if syntax.argument in (Argument.REQUIRED, Argument.PATH) and not argument:
        what = f"your {syntax.name}" if syntax.argument is Argument.REQUIRED else "a path"
        raise CommandError(f"`{verb.value}` needs {what}")
    if syntax.argument is Argument.PATH:
        argument = _clean_path(argument)
    if syntax.argument is Argument.NONE:
        argument = ""
    return Command(verb, argument)


def _clean_path(path: str) -> str:
    path = path.strip("`'\" ").removeprefix("./")
    if not path or path.startswith("/") or ".." in path.split("/") or " " in path:
        raise CommandError(f"`{path}` is not a repository-relative path")
    return path
