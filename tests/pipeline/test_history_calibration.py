"""Calibration data from a repository's own history: issues closed by merged pull requests.

The history is real: a git repository whose pull requests are pushed to and merged in the stand-in
GitHub's bare repository. The collector reads it from :class:`GitHubState` (the fake) and, through the
CLI, over REST from the stand-in server with the real githubkit client.
"""

from __future__ import annotations

import json
from pathlib import Path

from repomind.pipeline.localise.history_issues import closed_issues, collect, source_patch
from repomind.testing import StandInGitHub, git, make_git_repo
from repomind.testing.github.state import GitHubState
from tests.pipeline.test_localise import FILES
from tests.pipeline.test_localise_cli import ISSUES
from tests.test_cli import run


def test_closing_keywords_name_issues_of_this_repository_only() -> None:
    text = (
        "Fixes #3, closes: #4 and Resolved acme/shop#5.\n"
        "resolves https://github.com/acme/shop/issues/6\n"
        "Closes acme/other#7, fixes https://github.com/acme/other/issues/8, hotfix #9, see #10, fixes #3"
    )
    assert closed_issues(text, "acme/shop") == [3, 4, 5, 6]
    assert closed_issues("Refactor the cart (#12)", "acme/shop") == []


def test_the_patch_keeps_source_files_only() -> None:
    def section(path: str) -> str:
        return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"

    paths = [
        "shop/cart.py",
        "tests/test_cart.py",
        "CHANGELOG.md",
        "docs/usage.rst",
        "changes/12.bugfix",
        "x.js",
    ]
    patch = source_patch("".join(section(p) for p in paths))
    assert patch == section("shop/cart.py") + section("x.js")


def _merge(
    state: GitHubState, work: Path, branch: str, changes: dict[str, str], title: str, body: str
) -> int:
    """Commit ``changes`` on a branch from main, push it, open a pull request and merge it."""
    git(work, "fetch", "-q", "origin", "main")
    git(work, "checkout", "-q", "-B", branch, "origin/main")
    for path, text in changes.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text((work / path).read_text() + text if (work / path).exists() else text)
    git(work, "add", "-A")
    git(work, "commit", "-qm", title)
    git(work, "push", "-q", "origin", branch)
    number = state.create_pull(
        "acme/shop", title=title, head=branch, base="main", body=body, draft=False
    ).number
    state.merge_pull("acme/shop", number)
    return number


def _history(state: GitHubState, tmp_path: Path) -> dict[int, str]:
    """Twelve issues, each fixed by a merged pull request; and four pull requests that give no instance.

    Returns the fixed file by issue number."""
    source = make_git_repo(tmp_path / "src" / "shop", FILES)
    state.add_repo("acme/shop", source)
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(state.repos["acme/shop"].git_dir), str(work))
    fixed = {}
    for path, texts in ISSUES.items():
        for text in texts:
            number = state.open_issue("acme/shop", text, f"{text}, seen on 1.2.")
            changes = {
                path: "# fixed\n",
                "tests/test_shop.py": "def test_it(): pass\n",
                "CHANGELOG.md": "- fix\n",
            }
            _merge(state, work, f"fix-{number}", changes, f"Fix: {text}", f"Fixes #{number}.")
            fixed[number] = path
    _merge(state, work, "chore", {"shop/cart.py": "# tidy\n"}, "Tidy the cart", "No issue.")
    docs = state.open_issue("acme/shop", "Typo in the docs", "")
    _merge(state, work, "docs", {"docs/index.md": "typo\n"}, "Fix the typo", f"Closes #{docs}")
    _merge(
        state, work, "meta", {"shop/users.py": "# again\n"}, "Follow-up", "Fixes #2"
    )  # #2 is a pull request
    _merge(state, work, "other", {"shop/users.py": "# other\n"}, "Port", "Fixes acme/other#1")
    return fixed


def test_merged_pull_requests_become_instances(tmp_path: Path) -> None:
    state = GitHubState(tmp_path / "github")
    fixed = _history(state, tmp_path)
    git_dir = state.repos["acme/shop"].git_dir
    found = collect(state, "acme/shop", git_dir)

    assert found.scanned == 16
    assert sorted(int(i.instance_id.rsplit("-", 1)[1]) for i in found.instances) == sorted(fixed)
    pulls = {p.number: p for p in state.pulls("acme/shop")}
    for instance in found.instances:
        number = int(instance.instance_id.rsplit("-", 1)[1])
        issue = state.repos["acme/shop"].issues[number]
        assert instance.repo == "acme/shop" and instance.gold_files == [fixed[number]]
        assert instance.problem_statement == f"{issue.title}\n{issue.body}\n"
        # the base commit is where the pull request started, which lacks its fix
        pull = next(p for p in pulls.values() if p.body == f"Fixes #{number}.")
        assert pull.pull is not None and instance.base_commit == pull.pull.base_before
        shown = git(tmp_path / "work", "show", f"{instance.base_commit}:{fixed[number]}")
        assert shown.count("# fixed") < git(tmp_path / "work", "show", f"origin/main:{fixed[number]}").count(
            "# fixed"
        )
    assert [s["reason"] for s in found.skipped] == [
        "closes only pull requests",
        "changes only tests, docs or changelogs",
    ]

    newest = collect(state, "acme/shop", git_dir, limit=5)
    assert [i.instance_id for i in newest.instances] == [i.instance_id for i in found.instances[:5]]
    assert [i.instance_id for i in found.instances] == sorted(
        (i.instance_id for i in found.instances), key=lambda x: -int(x.rsplit("-", 1)[1])
    )

    # A clone that lacks the base commits gives no instance, and says why.
    shallow = tmp_path / "empty"
    make_git_repo(shallow, {"a.py": ""})
    none = collect(state, "acme/shop", shallow)
    assert not none.instances and all("is not in" in s["reason"] for s in none.skipped[1:])


def test_calibrate_from_github_over_rest(tmp_path: Path) -> None:
    with StandInGitHub(tmp_path / "github") as gh:
        _history(gh.state, tmp_path)
        clone = tmp_path / "clone"
        git(tmp_path, "clone", "-q", "--bare", str(gh.state.repos["acme/shop"].git_dir), str(clone))
        env = {
            "REPOMIND_DATA_DIR": str(tmp_path / "data"),
            "REPOMIND_EMBEDDING_MODEL": "none",
            "REPOMIND_GITHUB_API_URL": gh.url,
            "GITHUB_TOKEN": gh.state.issue_token(1).token,
        }
        out = tmp_path / "cal" / "calibration.json"
        args = ["calibrate", "--from-github", "acme/shop", "--repo", str(clone), "--out", str(out)]
        proc = run(*args, env=env)
        assert proc.returncode == 0, proc.stderr
        assert "12 issues closed by merged pull requests (of 16 read)" in proc.stderr
        assert "pull request #27: skipped, changes only tests, docs or changelogs" in proc.stderr
        fitted = json.loads(out.read_text())
        assert fitted["n"] == 12 and fitted["meta"]["dataset"] == "acme/shop, closed by merged pull requests"
        rows = [
            json.loads(line) for line in (out.parent / "calibration.issues.jsonl").read_text().splitlines()
        ]
        assert len(rows) == 12 and {r["repo"] for r in rows} == {"acme/shop"}

        bad_token = run(*args, env={**env, "GITHUB_TOKEN": "nope"})
        assert bad_token.returncode != 0 and "GitHub answered 401" in bad_token.stderr

    # The calibration gives sets, and the note names its data.
    shown = run(
        "localise", "--repo", str(clone), "--issue-text", "shipping_cost is wrong for heavy parcels",
        "--calibration", str(out), "--json", env=env,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    result = json.loads(shown.stdout)
    assert result["set"] and result["set"][0] == "shop/shipping.py"
    assert "12 issues of this repository closed by merged pull requests" in result["note"]

    for wrong, message in (
        (["--from-github", "acme", "--repo", str(clone)], "is not OWNER/REPO"),
        (["--from-github", "acme/shop"], "--from-github takes --repo"),
        (["--repo", str(clone)], "give --dataset and --repos, or --from-github"),
        (["--from-github", "acme/shop", "--repo", str(tmp_path / "nope")], "does not exist"),
    ):
        proc = run("calibrate", *wrong, "--out", str(tmp_path / "x.json"), env=env)
        assert proc.returncode == 2 and message in proc.stderr, (wrong, proc.stderr)
