"""Run directories and feedback rows as the pipeline and the bot write them, for the training tests."""

from __future__ import annotations

from pathlib import Path

from repomind.store import Ledger, make_engine
from repomind.store import feedback as feedback_store
from repomind.testing.training import write_run

BUGGY = "def add(a, b):\n    return a - b\n"
BOT_DIFF = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n"
    " def add(a, b):\n-    return a - b\n+    return a + b\n"
)
#: The maintainers' edit of the bot's patch: a different fix of the same line.
EDITED_DIFF = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n"
    " def add(a, b):\n-    return a - b\n+    return sum((a, b))\n"
)
BOT_REPLY = (
    "The sign is wrong.\n\ncalc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n"
    "    return a + b\n>>>>>>> REPLACE\n```\n"
)
BAD_REPLY = (
    "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return b - a\n>>>>>>> REPLACE\n```\n"
)


def messages(issue: str, attempt: int = 1) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are Repomind."},
        {
            "role": "user",
            "content": f"# Issue\n{issue}\n\n# Files\n## calc.py\n```\n{BUGGY}```\n(attempt {attempt})",
        },
    ]


def make_run(runs: Path, name: str, issue: str, *, failed_first: bool = True) -> Path:
    attempts = []
    if failed_first:
        attempts.append(
            {"messages": messages(issue, 1), "reply": BAD_REPLY, "category": "test-failure", "diff": ""}
        )
    attempts.append(
        {
            "messages": messages(issue, len(attempts) + 1),
            "reply": BOT_REPLY,
            "category": "passed",
            "diff": BOT_DIFF,
            "verified": True,
        }
    )
    return write_run(
        runs / name,
        run_id=name,
        repo="/src/calc",
        issue=issue,
        attempts=attempts,
        success=True,
        patch_attempt=len(attempts),
    )


def store_at(tmp: Path) -> Ledger:
    return Ledger(make_engine(f"sqlite:///{tmp / 'repomind.db'}"))


def add_feedback(
    store: Ledger,
    pr: int,
    *,
    merged: bool,
    merged_diff: str | None = None,
    issue: int | None = None,
    body: str = "add() subtracts",
    job_id: int | None = None,
    installation: int | None = 1,
    repo: str = "octo/calc",
) -> int:
    feedback_id, _ = feedback_store.save(
        store,
        feedback_store.FeedbackRecord(
            repo=repo,
            pr_number=pr,
            merged=merged,
            installation_id=installation,
            issue_number=issue or pr,
            job_id=job_id,
            issue_title=f"add is broken ({pr})",
            issue_body=body,
            bot_diff=BOT_DIFF,
            merged_diff=merged_diff if merged else None,
        ),
    )
    return feedback_id
