"""The ``/repomind`` command language is written once (``bot/commands.py`` ``GRAMMAR``): the parser, the
list of commands under every comment, the templates and the README's table come from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from repomind.bot.commands import grammar as commands
from repomind.bot.commands.grammar import (
    GRAMMAR,
    Argument,
    Command,
    CommandError,
    Verb,
    example,
    parse,
    usage,
)
from repomind.bot.render import render

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "src" / "repomind" / "bot" / "templates"


def test_the_grammar_has_every_verb_once() -> None:
    assert [s.verb for s in GRAMMAR] == list(Verb)


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("/repomind fix", Command(Verb.FIX)),
        ("/repomind fix --anyway", Command(Verb.FIX, anyway=True)),
        ("/REPOMIND retry use the cache", Command(Verb.RETRY, "use the cache")),
        ("thanks!\n/repomind revise keep the old name", Command(Verb.REVISE, "keep the old name")),
        ("/repomind include `./src/app.py`", Command(Verb.INCLUDE, "src/app.py")),
        ("/repomind status please", Command(Verb.STATUS)),  # a verb that takes nothing ignores the rest
        ("> /repomind fix\n```\n/repomind cancel\n```", None),  # quotes and code do not run
    ],
)
def test_parse_follows_the_grammar(body: str, command: Command | None) -> None:
    assert parse(body) == command


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("/repomind fix now", "`fix` takes only `--anyway`"),
        ("/repomind revise", "`revise` needs your feedback"),
        ("/repomind exclude", "`exclude` needs a path"),
        ("/repomind include ../etc/passwd", "is not a repository-relative path"),
        ("/repomind frobnicate", "unknown command `frobnicate`"),
    ],
)
def test_malformed_commands_say_what_is_accepted(body: str, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse(body)


def test_usage_and_examples_come_from_the_grammar() -> None:
    assert usage("retry") == "/repomind retry [hint]"
    assert usage(Verb.REVISE) == "/repomind revise <feedback>"
    assert usage("include") == "/repomind include PATH"
    assert example("fix", "--anyway") == "/repomind fix --anyway"
    assert [s.argument for s in GRAMMAR if s.verb is Verb.FIX] == [Argument.FLAG]


def test_the_list_under_every_comment_is_the_grammar() -> None:
    footer = render("reply", text="hi")
    for syntax in GRAMMAR:
        assert syntax.usage in footer and syntax.what in footer
    assert f"`{commands.PREFIX} include PATH / exclude PATH` pin the localisation" in footer


def test_the_readme_table_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for syntax in GRAMMAR:
        assert f"| `{usage(syntax.verb)}` |" in readme


def test_templates_write_no_command_by_hand() -> None:
    """Templates name commands through ``prefix``/``example``, so renaming one changes it everywhere."""
    assert [p.name for p in TEMPLATES.glob("*.j2") if commands.PREFIX in p.read_text()] == []


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("/repomind fix", {}),
        ("/repomind fix --anyway", {"anyway": True}),
        ("/repomind retry", {}),
        ("/repomind retry look at parse()", {"hint": "look at parse()"}),
        ("/repomind revise use sum()", {"feedback": "use sum()"}),
        ("/repomind status", {}),
    ],
)
def test_the_grammar_says_what_a_command_gives_its_job(line: str, args: dict[str, object]) -> None:
    command = parse(line)
    assert command is not None and command.job_args() == args
