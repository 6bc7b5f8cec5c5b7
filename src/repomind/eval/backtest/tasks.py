"""Task instances from a repository's own history, SWE-bench style.

A candidate is a change that modifies existing source files and touches test files: a commit of the
first-parent history (its cleaned message as the issue text, with the bot, revert, release and mass-edit
filters of :mod:`repomind.pipeline.localise.history_commits`), or a merged pull request that closes an
issue (the issue's title and body, the base it was merged onto, its diff: as ``calibrate --from-github``
reads them, :mod:`repomind.pipeline.localise.history_issues`). Its diff is split into the source change
(the gold patch: fix targets only, no docs or changelogs) and the test change.

A task is built as SWE-bench builds one: at the change's base, the environment as the bot sets it up
(:mod:`repomind.eval.backtest.environment`), the test files the test change touches run with the test
change alone ("before") and with the source change too ("after"), both in the sandbox; FAIL_TO_PASS are
the tests that pass after and did not before, PASS_TO_PASS those that pass in both. A candidate with no
FAIL_TO_PASS test is dropped. The repository is hostile: its history is read as git objects, its work
trees are git's own checkouts under a scratch directory, and its code runs only in the sandbox.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from repomind.errors import ConfigError, UnsupportedRepository
from repomind.eval.backtest import environment
from repomind.eval.swebench.harness import PatchError, apply_patch
from repomind.pipeline.instance import Instance, file_sections
from repomind.pipeline.localise import gitread, history_commits
from repomind.pipeline.localise.history_issues import History, closed_issues, is_fix_target
from repomind.pipeline.solve.workspace import GitError, Workspace
from repomind.pipeline.toolchain.protocol import GOOD
from repomind.pipeline.toolchain.select import TOOLCHAINS
from repomind.sandbox import EnvironmentSetupError, ImageNotFoundError, Sandbox

KEPT = "kept"
NO_F2P = "no test goes from failing to passing"
TIMED_OUT = "its tests ran past the sandbox's time limit before the change"
#: Commits read from the history per ``git rev-list`` call.
BATCH = 200
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Candidate:
    """A change that touches source files and test files."""

    commit: str
    parent: str
    time: int
    description: str
    source_patch: str
    test_patch: str
    source: Literal["history", "github"]
    #: The pull request's number, for a change read from GitHub.
    number: int | None = None

    @property
    def key(self) -> str:
        """What names the change: its commit, or its pull request."""
        return self.commit or f"pull-{self.number}"


@dataclass(frozen=True)
class TaskOutcome:
    candidate: Candidate
    instance: Instance | None
    #: ``kept``, or why the candidate was dropped.
    reason: str


def is_test(path: str) -> bool:
    """Test code for one of the toolchains."""
    return any(t.is_test_file(path) for t in TOOLCHAINS)


def split_patch(diff: str) -> tuple[str, str]:
    """(source change, test change) of a unified diff; docs, changelogs and the like are in neither."""
    source, tests = [], []
    for path, text in file_sections(diff):
        text = text if text.endswith("\n") else text + "\n"
        if is_test(path):
            tests.append(text)
        elif is_fix_target(path):
            source.append(text)
    return "".join(source), "".join(tests)


def _diff(clone: Path, parent: str, commit: str) -> str:
    out = history_commits._git(
        clone, "diff-tree", "-p", "--no-renames", "--binary", "--no-color", "--full-index", parent, commit
    )
    return out.decode("utf-8", "surrogateescape")


def _since(since: date | None) -> int:
    return int(datetime.combine(since, datetime.min.time(), UTC).timestamp()) if since else 0


def history_candidates(
    clone: Path, *, rev: str | None = None, since: date | None = None, limit: int | None = None
) -> Iterator[Candidate]:
    """Candidates of the first-parent history of ``rev`` (default HEAD), newest first, down to ``since``."""
    head = gitread.resolve(clone, rev)
    oldest, offset, count = _since(since), 0, 0
    claimed: set[str] = set()
    while limit is None or count < limit:
        shas = history_commits._first_parents(clone, head, skip=offset, count=BATCH)
        if not shas:
            return
        offset += len(shas)
        commits = [c for c in history_commits._read_commits(clone, shas) if c.parents]
        branches = history_commits._branch_subjects(clone, commits, claimed)
        changes = history_commits._changed(clone, [(c.sha, c.parents[0]) for c in commits])
        for commit in commits:
            if commit.time < oldest:
                return
            text, why = history_commits.describe(
                commit.message,
                commit.author,
                merge=len(commit.parents) > 1,
                branch=branches.get(commit.sha, ()),
            )
            changed = changes.get(commit.sha, [])
            if why or history_commits.source_files(changed)[1] or not any(is_test(p) for _, p in changed):
                continue
            source, tests = split_patch(_diff(clone, commit.parents[0], commit.sha))
            if not source or not tests:
                continue
            yield Candidate(commit.sha, commit.parents[0], commit.time, text, source, tests, "history")
            count += 1
            if limit is not None and count >= limit:
                return
        if len(shas) < BATCH:
            return


def _commit_time(clone: Path, sha: str) -> int | None:
    """The committer time of ``sha``, or None when the clone lacks it."""
    found = dict(gitread.read_blobs(clone, [sha])) if sha else {}
    return history_commits.parse_commit(sha, found[sha]).time if sha in found else None


def github_candidates(
    github: History, repo: str, clone: Path, *, since: date | None = None, limit: int | None = None
) -> Iterator[Candidate]:
    """Candidates of the merged pull requests of ``repo`` that close an issue of it, newest first: the
    issue's title and body as the description, the base the pull request was merged onto, its diff."""
    oldest, count = _since(since), 0
    for pull in github.merged_pulls(repo):
        if limit is not None and count >= limit:
            return
        numbers = closed_issues(f"{pull.title}\n{pull.body}", repo)
        issues = [github.issue_text(repo, n) for n in numbers]
        issues = [i for i in issues if not i.is_pull_request]
        when = _commit_time(clone, pull.base_sha) if issues else None
        if when is None:
            continue  # closes no issue, or the clone lacks its base
        if when < oldest:
            return
        source, tests = split_patch(github.get_pull_diff(repo, pull.number))
        if not source or not tests:
            continue
        text = "\n\n".join(f"{i.title}\n{i.body}".strip() for i in issues) + "\n"
        yield Candidate("", pull.base_sha, when, text, source, tests, "github", pull.number)
        count += 1


def fail_to_pass(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Tests that pass after and did not before. A test missing before counts only when nothing of its
    file passed before (the file could not be loaded without the fix): otherwise its id is not stable
    between runs (a parameter made from the clock), and no evaluation could find it again."""
    loaded = {t.split("::")[0] for t, o in before.items() if o in GOOD}
    return [
        t
        for t, o in after.items()
        if o in GOOD and before.get(t) not in GOOD and (t in before or t.split("::")[0] not in loaded)
    ]


def instance_id(candidate: Candidate, repo: str) -> str:
    suffix = candidate.commit[:12] if candidate.source == "history" else str(candidate.number)
    return f"{repo.replace('/', '__')}-{suffix}"


def build_task(
    candidate: Candidate,
    clone: Path,
    *,
    repo: str,
    sandbox: Sandbox,
    work: Path,
    prepare: Callable[..., environment.BotEnvironment] = environment.prepare,
) -> TaskOutcome:
    """Run the candidate's tests before and after its source change at its base, in the sandbox."""

    def dropped(reason: str) -> TaskOutcome:
        return TaskOutcome(candidate, None, reason)

    root = work / candidate.key
    shutil.rmtree(root, ignore_errors=True)
    try:
        workspace = Workspace.create(str(clone), candidate.parent, root)
    except GitError as exc:
        return dropped(f"the base commit cannot be checked out: {exc}")
    try:
        tree = workspace.work_tree("tree")
        try:
            bot = prepare(sandbox, tree, repo)
        except (EnvironmentSetupError, ImageNotFoundError, ConfigError, UnsupportedRepository) as exc:
            return dropped(f"environment could not be set up: {str(exc).splitlines()[0][:300]}")
        try:
            apply_patch(tree, candidate.test_patch, "test_patch")
        except PatchError:
            return dropped("the test change does not apply at the base")
        files = environment.test_files(
            bot.toolchain, [p for p, _ in file_sections(candidate.test_patch)], tree
        )
        if not files:
            return dropped("the test change leaves no test file to run")
        before = environment.run(sandbox, bot, tree, files)
        if before.timed_out:  # its tests would time out in every replay too (a download, a hang)
            return dropped(TIMED_OUT)
        try:
            apply_patch(tree, candidate.source_patch, "source_patch")
        except PatchError:
            return dropped("the source change does not apply after the test change")
        after = environment.run(sandbox, bot, tree, files)
        if not after.results:
            return dropped(f"no test outcome could be read after the change (exit {after.exit_code})")
        f2p = fail_to_pass(before.results, after.results)
        if f2p:  # once more: a test must pass under the same id twice (a clock in its id, or flaky)
            again = environment.run(sandbox, bot, tree, files).results
            f2p = [t for t in f2p if again.get(t) in GOOD]
            after_results = {t: o for t, o in after.results.items() if again.get(t) == o}
        else:
            after_results = after.results
    finally:
        workspace.cleanup()
    p2p = [t for t, o in after_results.items() if o in GOOD and before.results.get(t) in GOOD]
    if not f2p:
        return dropped(NO_F2P)
    instance = Instance(
        instance_id=instance_id(candidate, repo),
        repo=repo,
        base_commit=candidate.parent,
        problem_statement=candidate.description,
        patch=candidate.source_patch,
        version="",
        test_patch=candidate.test_patch,
        fail_to_pass=tuple(sorted(f2p)),
        pass_to_pass=tuple(sorted(p2p)),
    )
    return TaskOutcome(candidate, instance, KEPT)


#: How tasks are built; a cached outcome of another version is built again (2: the tests run after the
#: change twice).
CACHE_VERSION = 2


def _cache_path(cache_dir: Path, candidate: Candidate) -> Path:
    return cache_dir / f"{candidate.source}-{candidate.key}.json"


def _load(path: Path) -> tuple[Instance | None, str] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("version") != CACHE_VERSION:
            return None  # built another way: build it again
        row = data["instance"]
        if row is None:
            return None, str(data["reason"])
        row["fail_to_pass"], row["pass_to_pass"] = tuple(row["fail_to_pass"]), tuple(row["pass_to_pass"])
        return Instance(**row), str(data["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or torn: build it again


def _store(path: Path, outcome: TaskOutcome, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    row = asdict(outcome.instance) if outcome.instance else None
    data = {
        "version": CACHE_VERSION,
        "key": outcome.candidate.key,
        "reason": outcome.reason,
        "seconds": round(seconds, 2),
        "instance": row,
    }
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(data, indent=1))
    partial.replace(path)


def build_tasks(
    candidates: Iterable[Candidate],
    clone: Path,
    *,
    repo: str,
    sandbox: Sandbox,
    limit: int | None,
    cache_dir: Path,
    progress: Progress = lambda _d, _t, _m: None,
    outcomes: list[TaskOutcome] | None = None,
) -> list[Instance]:
    """Tasks from ``candidates`` in order until ``limit`` are kept; each candidate's outcome is cached in
    ``cache_dir`` (one JSON file per change), so that a rerun builds nothing twice. Every outcome, cached or
    built, is appended to ``outcomes`` when given."""
    kept: list[Instance] = []
    total = limit or 0
    for candidate in candidates:
        if limit is not None and len(kept) >= limit:
            break
        path = _cache_path(cache_dir, candidate)
        cached = _load(path)
        if cached is not None:
            outcome = TaskOutcome(candidate, cached[0], cached[1])
        else:
            start = time.monotonic()
            outcome = build_task(candidate, clone, repo=repo, sandbox=sandbox, work=cache_dir / "work")
            _store(path, outcome, time.monotonic() - start)
        if outcomes is not None:
            outcomes.append(outcome)
        if outcome.instance is not None:
            kept.append(outcome.instance)
        progress(len(kept), total, f"{candidate.key[:12]}: {outcome.reason}")
    shutil.rmtree(cache_dir / "work", ignore_errors=True)
    return kept
