"""The short texts the triggers post come from templates (``answer``, ``headline``, ``stage``, ``result``)."""

from __future__ import annotations

import pytest

from repomind.bot.render import render, text


@pytest.mark.parametrize(
    ("why", "label", "expected"),
    [
        ("closed", "", "Cancelled before it started: the issue was closed."),
        ("unlabeled", "fix-me", "Cancelled before it started: the `fix-me` label was removed."),
        ("", "", "Cancelled before it started."),
    ],
)
def test_a_queued_job_cancelled_says_why(why: str, label: str, expected: str) -> None:
    assert text("result", ending="cancelled-before-start", why=why, label=label) == expected
    assert text("headline", ending="cancelled") == "🛑 cancelled"


def test_a_queued_job_says_what_it_waits_for() -> None:
    assert text("headline", ending="queued") == "⏳ queued"
    assert text("stage", step="queued", behind=7) == "Queued behind job 7 on this issue."
    assert text("stage", step="queued", behind=None) == "Starting…"


def test_answers() -> None:
    assert text("answer", kind="cancelling", jobs=[3]) == (
        "Cancelling job 3: a running job stops at its next stage boundary."
    )
    assert text("answer", kind="cancelling", jobs=[3, 4]).startswith("Cancelling jobs 3, 4:")
    assert text("answer", kind="cancelling", jobs=[]) == (
        "Nothing to cancel: no job is queued or running on this issue."
    )
    assert text("answer", kind="pinned", path="a.py", include=False) == (
        "`a.py` will be left out of the file set of the next runs on this issue."
    )
    body = render("reply", text=text("answer", kind="not-understood", problem="no such command `frob`"))
    assert body.startswith("I did not understand: no such command `frob`.\n")
