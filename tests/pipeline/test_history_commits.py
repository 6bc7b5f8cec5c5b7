"""Calibration pairs from a repository's git history: which changes count, their descriptions and files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.history_commits import describe, history_pairs, parse_commit
from repomind.testing import git
from tests.pipeline.history_fixture import history_repo


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "shop"
    return repo, history_repo(repo)


def test_the_pairs_are_the_fixes_newest_first_with_their_source_files(history: tuple[Path, dict[str, str]]) -> None:
    repo, made = history
    reasons: Counter[str] = Counter()
    pairs = history_pairs(repo, reasons=reasons)
    assert [p.commit for p in pairs] == [made["both"], made["squash"], made["pull"], made["plain"]]
    by = {p.commit: p for p in pairs}
    # tests, docs and changelogs are not what a fix is judged on; a TypeScript file is indexed
    assert by[made["both"]].files == ("shop/pricing.py", "shop/users.py", "web/app.ts")
    assert by[made["plain"]].files == ("shop/pricing.py",)
    assert by[made["pull"]].files == ("shop/cart.py",)
    # each is ranked on its first parent, and carries its committer time
    for name in ("plain", "pull", "squash", "both"):
        pair = by[made[name]]
        assert pair.parent == git(repo, "rev-parse", f"{made[name]}^1").strip()
        assert pair.time == int(git(repo, "log", "-1", "--format=%ct", made[name]))
    assert reasons == Counter(
        {
            "no source file": 1,  # docs only
            "revert": 1,
            "bot": 1,
            "release or version bump": 1,
            "more than 10 source files": 1,
            "merge without a description": 1,
            "adds files only": 1,
        }
    )


def test_descriptions_are_what_the_change_says_it_does(history: tuple[Path, dict[str, str]]) -> None:
    repo, made = history
    by = {p.commit: p.description for p in history_pairs(repo)}
    # a pull request's merge: its title, not the merge line
    assert by[made["pull"]] == "ShoppingCart.total_price ignores empty carts\n"
    # a squash merge: its number kept out
    assert by[made["squash"]] == "Shipping cost for heavy parcels\n"
    # subject and body, trailers dropped
    assert by[made["plain"]] == "Fix apply_discount rounding for zero rates\n\nThe discount rate of 0 gave a float.\n"


def test_limit_and_revision(history: tuple[Path, dict[str, str]]) -> None:
    repo, made = history
    assert [p.commit for p in history_pairs(repo, limit=2)] == [made["both"], made["squash"]]
    assert [p.commit for p in history_pairs(repo, made["squash"])] == [made["squash"], made["pull"], made["plain"]]
    with pytest.raises(LocaliseError, match="does not exist"):
        history_pairs(repo, "no-such-branch")


@pytest.mark.parametrize(
    ("message", "author", "merge", "reason"),
    [
        ("Merge pull request #3 from pre-commit-ci/pre-commit-ci-update-config\n\n[pre-commit.ci] update", "Ann", True, "bot"),
        ("[pre-commit.ci] auto fixes from pre-commit.com hooks", "Ann", False, "bot"),
        ("Update x", "pre-commit-ci[bot] <66853113+pre-commit-ci[bot]@users.noreply.github.com>", False, "bot"),
        ("Merge pull request #4 from ann/dependabot/pip/x-1.2\n\nBump x", "Ann", True, "bot"),
        ("Bump version to 2.0.1", "Ann", False, "release or version bump"),
        ("v2.31.0", "Ann", False, "release or version bump"),
        ("Prepare the 3.0 release", "Ann", False, "release or version bump"),
        ("Reapply \"fix the cart\"", "Ann", False, "revert"),
        ("Fixes #25352", "Ann", False, "no description"),
        ("Merge pull request #9 from ann/patch-1", "Ann", True, "merge without a description"),
        ("Merge branch 'main' into feature\n\nConflicts:\n\tshop/cart.py", "Ann", True, "merge without a description"),
    ],
)
def test_changes_that_say_nothing_of_a_fix_are_skipped(message: str, author: str, merge: bool, reason: str) -> None:
    assert describe(message, author, merge=merge) == ("", reason)


def test_a_gitlab_merge_request_keeps_its_title() -> None:
    message = "Merge branch 'fix-cart' into 'main'\n\nFix the cart total\n\nSee merge request acme/shop!12"
    assert describe(message, "Ann", merge=True) == ("Fix the cart total\n", "")


def test_raw_commit_objects_are_parsed_without_trusting_their_text() -> None:
    raw = (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent aaa\nparent bbb\n"
        b"author Ann <ann@example.com> 1700000000 +0100\ncommitter C <c@example.com> 1700000123 +0000\n"
        b"gpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END PGP SIGNATURE-----\n\nSubject\n\nparent ccc\n\xff"
    )
    commit = parse_commit("abc", raw)
    assert commit.parents == ("aaa", "bbb")
    assert commit.author == "Ann <ann@example.com>"
    assert commit.time == 1700000123
    assert commit.message.startswith("Subject\n\nparent ccc\n")
