"""Datasets from recorded runs joined with feedback rows: labels, split by issue, dedup, scrubbing, card."""

from __future__ import annotations

import json
from pathlib import Path

from repomind.store import Job, JobState
from repomind.training.dataset import build_dataset, eval_side, load_info, load_split
from repomind.training.examples import Paired, Supervised, Unpaired, same_patch
from repomind.training.from_runs import examples_from_run, read_run
from repomind.training.scrub import Scrubber
from repomind.training.store_source import store_examples

from .helpers import BOT_DIFF, BOT_REPLY, EDITED_DIFF, add_feedback, make_run, store_at


def _job(store, job_id: int, run_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s:
        s.add(
            Job(
                id=job_id,
                repo="octo/calc",
                installation_id=1,
                issue_number=job_id,
                trigger="label",
                command="fix",
                state=JobState.SUCCEEDED,
                result={"run_dir": str(run_dir)},
            )
        )


def test_feedback_labels_the_runs_examples(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    runs = tmp_path / "runs"
    # PR 1 merged as the bot wrote it; PR 2 merged after the maintainers edited it; PR 3 closed unmerged.
    for n in (1, 2, 3):
        _job(store, n, make_run(runs, f"job-{n}", f"add() is wrong in case {n}"))
    add_feedback(store, 1, merged=True, merged_diff=BOT_DIFF, job_id=1)
    add_feedback(store, 2, merged=True, merged_diff=EDITED_DIFF, job_id=2)
    add_feedback(store, 3, merged=False, job_id=3)
    # A feedback row whose run is gone: the issue alone makes the prompt.
    add_feedback(store, 4, merged=True, merged_diff=BOT_DIFF, body="add() again")

    examples, counts = store_examples(store, runs)
    assert counts == {
        "feedback": 4,
        "with_run": 3,
        "issue_only": 1,
        "unreviewed_runs": 0,
        "unreadable_runs": 0,
    }
    by_issue: dict[str, list] = {}
    for e in examples:
        by_issue.setdefault(e.issue, []).append(e)

    sft1 = [e for e in by_issue["octo/calc#1"] if isinstance(e, Supervised)]
    assert [e.source for e in sft1] == ["accepted"]
    assert sft1[0].messages[-1]["content"] == BOT_REPLY  # the model's own answer, kept as it was merged

    sft2 = [e for e in by_issue["octo/calc#2"] if isinstance(e, Supervised)]
    assert [e.source for e in sft2] == ["accepted-edited"]
    target = sft2[0].messages[-1]["content"]
    assert "return sum((a, b))" in target and same_patch(target, EDITED_DIFF)  # the merged diff is the label
    pairs = [e for e in by_issue["octo/calc#2"] if isinstance(e, Paired)]
    assert {p.source for p in pairs} == {"edited-pair", "attempt-pair"}
    edited = next(p for p in pairs if p.source == "edited-pair")
    assert edited.rejected[0]["content"] == BOT_REPLY and "sum((a, b))" in edited.chosen[0]["content"]

    third = by_issue["octo/calc#3"]
    assert not any(isinstance(e, Supervised) for e in third)
    rejected = [e for e in third if isinstance(e, Unpaired) and e.source == "rejected"]
    assert len(rejected) == 1 and rejected[0].label is False

    failed = [e for e in examples if isinstance(e, Unpaired) and e.source == "failed-attempt"]
    assert len(failed) == 3 and all(not e.label for e in failed)

    only = by_issue["octo/calc#4"]
    assert {e.source for e in only} == {"accepted-issue-only"}
    assert "add() again" in next(e for e in only if isinstance(e, Supervised)).messages[1]["content"]


def test_unreviewed_runs_only_when_asked(tmp_path: Path) -> None:
    run = read_run(make_run(tmp_path / "runs", "r1", "add() subtracts", failed_first=False))
    assert examples_from_run(run, None) == []
    found = examples_from_run(run, None, include_unreviewed=True)
    assert {(e.kind, e.source) for e in found} == {("sft", "verified-run"), ("kto", "verified-run")}


def _sft(
    issue: str, body: str, target: str = "x.py\n```\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```"
) -> Supervised:
    return Supervised(
        issue, "test", [{"role": "user", "content": body}, {"role": "assistant", "content": target}]
    )


def test_split_by_issue_dedup_and_hash(tmp_path: Path) -> None:
    examples = []
    for i in range(40):
        examples += [_sft(f"o/r#{i}", f"issue {i} first"), _sft(f"o/r#{i}", f"issue {i} second")]
    examples.append(_sft("o/r#0", "issue 0   first"))  # the same text up to whitespace: a duplicate
    info = build_dataset(examples, tmp_path / "a", eval_fraction=0.25)
    assert info.dropped == {"duplicate": 1}
    train = {e.issue for e in load_split(tmp_path / "a", "sft", "train")}
    held = {e.issue for e in load_split(tmp_path / "a", "sft", "eval")}
    assert train and held and not train & held  # never the same issue on both sides
    assert held == {f"o/r#{i}" for i in range(40) if eval_side(f"o/r#{i}", 0.25)}
    assert info.counts["sft"]["train"] + info.counts["sft"]["eval"] == 80
    # Deterministic: the same examples in another order make the same dataset (same hash, same files).
    again = build_dataset(list(reversed(examples)), tmp_path / "b", eval_fraction=0.25)
    assert again.hash == info.hash
    assert (tmp_path / "a" / "sft-eval.jsonl").read_text() == (tmp_path / "b" / "sft-eval.jsonl").read_text()
    changed = build_dataset(examples[:-3], tmp_path / "c", eval_fraction=0.25)
    assert changed.hash != info.hash
    # A later dataset keeps every old issue on its side.
    build_dataset([*examples, _sft("o/r#99", "new")], tmp_path / "d", eval_fraction=0.25)
    held_more = {e.issue for e in load_split(tmp_path / "d", "sft", "eval")}
    assert held <= held_more


def test_secrets_are_scrubbed_everywhere(tmp_path: Path) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    aws = "AKIA" + "ABCDEFGHIJKLMNOP"
    known = "hunter2-very-secret-value"
    examples = [
        _sft("o/r#1", f"the bot's token {token} leaked, and {known}"),
        _sft(
            "o/r#2",
            "config",
            target=(
                f'x.py\n```\n<<<<<<< SEARCH\nkey = "{aws}"\n=======\n'
                'api_key = "abcdefghijklmnop123"\n>>>>>>> REPLACE\n```'
            ),
        ),
    ]
    info = build_dataset(examples, tmp_path / "d", scrubber=Scrubber([known]))
    text = "".join(p.read_text() for p in (tmp_path / "d").iterdir())
    for secret in (token, aws, known, "abcdefghijklmnop123"):
        assert secret not in text
    assert "[REDACTED]" in text and info.scrubbed == 2
    targets = [e.messages[-1]["content"] for e in load_split(tmp_path / "d", "sft", "train")]
    targets += [e.messages[-1]["content"] for e in load_split(tmp_path / "d", "sft", "eval")]
    assert any('api_key = "[REDACTED]"' in t for t in targets)


def test_card_and_token_statistics(tmp_path: Path) -> None:
    examples = [_sft(f"o/r#{i}", "word " * (10 * (i + 1))) for i in range(6)]
    info = build_dataset(examples, tmp_path / "est")
    assert info.tokens["counter"] == "estimate: characters / 4"
    stats = info.tokens["per_example"]["sft"]
    assert stats["n"] == 6 and stats["min"] < stats["max"]
    card = (tmp_path / "est" / "README.md").read_text()
    assert info.hash in card and "characters / 4" in card and "| test | 6 |" in card
    manifest = json.loads((tmp_path / "est" / "dataset.json").read_text())
    assert manifest["hash"] == load_info(tmp_path / "est").hash == info.hash
    # With a tokenizer (here: whitespace words), the counts are its counts and the card says which.
    words = build_dataset(
        examples,
        tmp_path / "tok",
        count_tokens=lambda t: len(t.split()),
        tokenizer_name="words",
        max_tokens=45,
    )
    assert words.tokens["counter"] == "words"
    # 10, 20, ... 60 words of issue plus the target's 10 words: 50, 60 and 70 are over 45.
    assert words.dropped == {"too-long": 3}
    assert words.tokens["per_example"]["sft"]["max"] == 40
