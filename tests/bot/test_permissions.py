"""Every way to trigger Repomind, by someone without write permission (read, or none at all): each gets
the polite refusal and starts nothing (no job, no reaction, no pin, no cancel)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from repomind.bot.commands.grammar import Verb
from repomind.testing import FakePipeline, StandInGitHub
from tests.bot.conftest import FIXED
from tests.bot.helpers import REPO, Server, adjust, bot_pull, fixture, serve, settings_for, wait_for

#: One comment per command: every verb Repomind knows, with the arguments it needs.
COMMANDS = {
    Verb.FIX: "/repomind fix",
    Verb.RETRY: "/repomind retry look at calc.py",
    Verb.REVISE: "/repomind revise use sum()",
    Verb.FILES: "/repomind files",
    Verb.INCLUDE: "/repomind include calc.py",
    Verb.EXCLUDE: "/repomind exclude calc.py",
    Verb.EXPLAIN: "/repomind explain",
    Verb.STATUS: "/repomind status",
    Verb.CANCEL: "/repomind cancel",
    Verb.HELP: "/repomind help",
}
OUTSIDERS = ["mallory", "nobody"]  # read permission; no permission at all


def test_the_list_covers_every_command() -> None:
    assert set(COMMANDS) == set(Verb)


@pytest.fixture
def server(github: StandInGitHub, tmp_path: Path) -> Iterator[Server]:
    github.state.set_permission(REPO, "nobody", "none")
    srv = serve(settings_for(github, tmp_path / "data"), pipeline=FakePipeline(edits={"calc.py": FIXED}))
    srv.github_state = github.state
    yield srv
    srv.stop()


def _dispatched(server: Server, delivery: str) -> bool:
    d = server.ledger.delivery(delivery)
    return d is not None and d.dispatched_at is not None


def _refused(server: Server, github: StandInGitHub, user: str, delivery: str, *, thread: int = 1) -> None:
    wait_for(lambda: _dispatched(server, delivery), what="dispatch")
    replies = [c.body for c in github.state.comments_on(REPO, thread) if c.user == "repomind[bot]"]
    assert len(replies) == 1 and f"Sorry @{user}" in replies[0], replies
    assert server.ledger.all_jobs() == [] and github.state.reactions == []
    assert server.ledger.pins(REPO, 1) == ([], [])
    assert (server.ledger.delivery(delivery).error or "") == ""  # type: ignore[union-attr]


@pytest.mark.parametrize("user", OUTSIDERS)
@pytest.mark.parametrize("verb", list(COMMANDS), ids=lambda v: v.value)
def test_every_command_by_an_outsider_is_refused(
    server: Server, github: StandInGitHub, verb: Verb, user: str
) -> None:
    body = COMMANDS[verb]
    cid = github.state.comment_as(REPO, 1, body, user=user)
    payload = adjust(fixture("issue_comment.created.with-installation"), issue=1, sender=user, comment=body)
    payload["comment"]["id"] = cid
    payload["issue"].pop("pull_request", None)
    resp = server.deliver("issue_comment", payload)
    assert resp.status_code == 202
    _refused(server, github, user, str(resp.json()["delivery"]))


@pytest.mark.parametrize("user", OUTSIDERS)
def test_the_label_by_an_outsider_is_refused(server: Server, github: StandInGitHub, user: str) -> None:
    payload = adjust(fixture("issues.labeled"), issue=1, sender=user, label="repomind")
    resp = server.deliver("issues", payload)
    assert resp.status_code == 202
    _refused(server, github, user, str(resp.json()["delivery"]))


@pytest.mark.parametrize("user", OUTSIDERS)
def test_a_review_requesting_changes_by_an_outsider_is_refused(
    server: Server, github: StandInGitHub, user: str
) -> None:
    payload = adjust(fixture("pull_request_review.submitted"), sender=user)
    payload["review"]["state"] = "changes_requested"
    payload["review"]["user"].update(login=user, type="User")
    payload["pull_request"]["head"]["ref"] = "repomind/issue-1"
    pr = bot_pull(github)  # the bot's own PR: only the reviewer's permission stands in the way
    payload["pull_request"]["number"] = pr
    resp = server.deliver("pull_request_review", payload)
    assert resp.status_code == 202
    _refused(server, github, user, str(resp.json()["delivery"]), thread=pr)
