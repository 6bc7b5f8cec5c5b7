"""App auth (JWT claims, installation tokens cached until shortly before expiry) and git with the token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
import pytest

from repomind.bot.github import gitops
from repomind.bot.github.auth import TOKEN_MARGIN_S, InstallationTokens, app_jwt
from repomind.bot.github.client import GithubkitFactory
from repomind.bot.github.protocol import GitHubError
from repomind.testing import StandInGitHub, git
from tests.bot.helpers import REPO


def test_app_jwt_is_rs256_backdated_60s_and_lives_10_minutes(github: StandInGitHub) -> None:
    token = app_jwt("4242", github.private_key, now=1_000_000)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "RS256"
    assert claims == {"iss": "4242", "iat": 1_000_000 - 60, "exp": 1_000_000 - 60 + 600}


def test_installation_tokens_are_cached_until_shortly_before_expiry(github: StandInGitHub) -> None:
    now = [datetime.now(UTC).timestamp()]
    tokens = InstallationTokens(github.app_id, github.private_key, base_url=github.url, clock=lambda: now[0])
    first = tokens.get(77)
    assert github.state.token_valid(first.token) and tokens.get(77) == first and tokens.minted == 1
    assert github.jwts[-1]["iss"] == github.app_id  # the stand-in verified our JWT with the app's public key
    now[0] = first.expires_at.timestamp() - TOKEN_MARGIN_S - 1
    assert tokens.get(77) == first
    now[0] = first.expires_at.timestamp() - TOKEN_MARGIN_S + 1
    assert tokens.get(77) != first and tokens.minted == 2
    assert tokens.get(78) != tokens.get(77)  # one token per installation


def test_a_wrong_key_is_a_clear_error(github: StandInGitHub) -> None:
    other = StandInGitHub(Path("/nonexistent"))  # only for its freshly generated key
    tokens = InstallationTokens(github.app_id, other.private_key, base_url=github.url)
    with pytest.raises(GitHubError, match="refused an installation token for installation 77: 401"):
        tokens.get(77)


def test_the_installation_of_a_repository_is_asked_as_the_app(github: StandInGitHub) -> None:
    factory = GithubkitFactory(
        github.app_id, github.private_key, base_url=github.url, client_options={"http_cache": False}
    )
    github.state.repos[REPO].installation_id = 31
    assert factory.installation_for(REPO) == 31
    assert github.jwts and github.jwts[-1]["iss"] == github.app_id  # asked with the app's JWT
    github.state.repos[REPO].installation_id = None  # the app was removed from the repository
    assert factory.installation_for(REPO) is None
    assert factory.installation_for("acme/nowhere") is None
    other = StandInGitHub(Path("/nonexistent"))  # a wrong key: 401, not "not installed"
    wrong = GithubkitFactory(github.app_id, other.private_key, base_url=github.url)
    with pytest.raises(GitHubError, match="401"):
        wrong.installation_for(REPO)
    # an installation token is no way in: the route answers only the app
    token = github.state.issue_token(31).token
    asked = httpx.get(f"{github.url}/repos/{REPO}/installation", headers={"Authorization": f"token {token}"})
    assert asked.status_code == 401


def test_client_reads_githubs_shapes_through_githubkit(github: StandInGitHub) -> None:
    gh = GithubkitFactory(
        github.app_id,
        github.private_key,
        base_url=github.url,
        client_options={"http_cache": False, "auto_retry": False},
    ).for_installation(77)
    repo = gh.get_repository(REPO)
    assert repo.default_branch == "main" and repo.clone_url == f"{github.git_url}/{REPO}.git"
    assert gh.get_permission(REPO, "alice") == "maintain" and gh.get_permission(REPO, "nobody") == "none"
    assert gh.get_issue(REPO, 1).title == "add() subtracts"
    assert gh.get_file(REPO, "calc.py", "main") == "def add(a, b):\n    return a - b\n"
    assert gh.get_file(REPO, ".github/repomind.yml", "main") is None
    made = gh.create_comment(REPO, 1, "hello")
    gh.edit_comment(REPO, made.id, "hello again")
    assert [c.body for c in gh.list_comments(REPO, 1)] == ["hello again"]
    gh.add_reaction(REPO, "eyes", comment_id=made.id)
    gh.add_reaction(REPO, "eyes", comment_id=made.id)  # 200 the second time: still one reaction
    assert len(github.state.reactions) == 1
    with pytest.raises(GitHubError, match="404"):
        gh.get_issue(REPO, 99)


def test_git_push_with_the_token_never_stores_it(github: StandInGitHub, tmp_path: Path) -> None:
    token = github.state.issue_token(77).token
    url = f"{github.git_url}/{REPO}.git"
    tree = gitops.clone(url, tmp_path / "work", token=token)
    (Path(tree.working_dir) / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    diff = git(Path(tree.working_dir), "diff")
    sha = gitops.commit_diff(
        tree,
        diff,
        parent=gitops.head_sha(tree),
        message="fix",
        author=gitops.Identity("repomind[bot]", "bot@example.com"),
    )
    assert sha is not None
    gitops.push(tree, url, sha, "repomind/issue-1", token=token)
    assert github.state.branch_sha(REPO, "repomind/issue-1") == sha
    assert gitops.remote_has_branch(url, "repomind/issue-1", token=token)
    config = (Path(tree.git_dir) / "config").read_text()
    assert token not in config and "x-access-token" not in config
    # without a valid token the git server refuses, and the error names no token
    with pytest.raises(gitops.GitError) as refused:
        gitops.push(tree, url, sha, "repomind/issue-1", token="ghs_" + "0" * 36)
    assert "ghs_" not in str(refused.value)
    with pytest.raises(gitops.GitError):
        gitops.clone(url, tmp_path / "anon", token=None)
