"""`repomind eval localise --calibration history`: each instance calibrated on its own repository's history
before its base commit, one scoring pass per repository kept under the data dir."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from repomind.sandbox.hostenv import git_env
from repomind.testing import git, make_git_repo
from tests.pipeline.test_localise import FILES
from tests.pipeline.test_localise_cli import ISSUES
from tests.test_cli import run

START = 1_700_000_000


def _commit(repo: Path, path: str, message: str, at: int) -> str:
    target = repo / path
    target.write_text(target.read_text() + f"\n# {at}\n")
    dated = git_env({"GIT_AUTHOR_DATE": f"{at} +0000", "GIT_COMMITTER_DATE": f"{at} +0000"})
    for args in (["add", "-A"], ["-c", "user.name=A", "-c", "user.email=a@x", "commit", "-qm", message]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=dated)
    return git(repo, "rev-parse", "HEAD").strip()


def _history(tmp_path: Path) -> tuple[Path, list[str]]:
    """A repository with 64 fixes, an hour apart, each to one source file with an issue-like message."""
    repo = make_git_repo(tmp_path / "src" / "shop", FILES)
    made = []
    for n in range(64):
        path = list(ISSUES)[n % 4]
        made.append(_commit(repo, path, f"{ISSUES[path][n // 4 % 3]} ({n})", START + 3600 * (n + 1)))
    return repo, made


def test_eval_localise_calibrates_each_instance_on_its_history(tmp_path: Path) -> None:
    repo, made = _history(tmp_path)
    repos = tmp_path / "repos"
    repos.mkdir()
    (repos / "acme__shop").symlink_to(repo)
    lines = []
    for k, (path, texts) in enumerate(ISSUES.items()):
        # Three instances at the head (64 changes before them), one at the 20th change (19 before it).
        base = made[19] if k == 0 else made[-1]
        lines.append(
            {
                "instance_id": f"acme__shop-{k}",
                "repo": "acme/shop",
                "base_commit": base,
                "problem_statement": texts[0],
                "patch": f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n",
            }
        )
    data = tmp_path / "dev.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    env = {"REPOMIND_DATA_DIR": str(tmp_path / "data"), "REPOMIND_EMBEDDING_MODEL": "none"}
    out = tmp_path / "eval" / "report.json"
    args = ["eval", "localise", "--dataset", str(data), "--repos", str(repos), "--calibration", "history"]
    proc = run(*args, "--history-limit", "100", "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())["summary"]
    assert summary["n"] == 4 and summary["without_set"] == 1  # 19 changes before it: no set, as the bot
    assert summary["coverage"] is not None and summary["mean_set_size"] >= 1
    assert summary["coverage_by_repo"] == {"acme/shop": summary["coverage"]}
    records = {r["instance_id"]: r for r in json.loads(out.read_text())["instances"]}
    assert records["acme__shop-0"]["set"] is None and records["acme__shop-1"]["set"]
    cache = tmp_path / "data" / "eval" / "history" / "acme__shop.json"
    scored = json.loads(cache.read_text())
    assert scored["head"] == made[-1] and len(scored["entries"]) == 64  # one pass, up to the newest base
    stamp = cache.stat().st_mtime_ns
    again = run(*args, "--history-limit", "100", "--out", str(out), env=env)
    assert again.returncode == 0, again.stderr
    assert cache.stat().st_mtime_ns == stamp  # kept, not scored again
    assert json.loads(out.read_text())["summary"]["coverage"] == summary["coverage"]


def test_claimed_counts_wide_sets_as_hints_and_judges_the_rest() -> None:
    """The sets the bot would state: a set wider than max_set_size asks for a hint and is left out of the
    coverage; a record with no set (no good enough calibration) is neither."""
    from repomind.eval.localise.evaluate import claimed

    records = [
        {"set_size": 3, "covered": True},
        {"set_size": 10, "covered": False},
        {"set_size": 11, "covered": True},  # a hint, though it would have covered
        {"set_size": None, "covered": None},
    ]
    stats = claimed(records, 10)
    assert (stats["n"], stats["hints"], stats["without_set"]) == (2, 1, 1)
    assert stats["coverage"] == 0.5 and stats["mean_set_size"] == 6.5
    assert abs(stats["standard_error"] - (0.5 * 0.5 / 2) ** 0.5) < 1e-12
    assert claimed(records, 2)["n"] == 0 and claimed(records, 2)["coverage"] is None
