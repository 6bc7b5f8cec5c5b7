"""Multi-turn tool trajectories from the agent's runs (schema 2), beside the final-patch examples of the
pipeline's runs (schema 1 still read): the conversation, its labels, the dataset files, the token labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.solve import events as ev
from repomind.pipeline.solve.artifacts import RunArtifacts
from repomind.pipeline.solve.outcome import Category, Stopped
from repomind.pipeline.solve.recorder import RunRecorder
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.solve.request import SolveReport
from repomind.training.dataset import build_dataset, load_split
from repomind.training.examples import Supervised, Unpaired
from repomind.training.from_runs import FeedbackView, examples_from_run, read_run
from repomind.training.store_source import store_examples
from tests.requirements import require

from .helpers import BOT_DIFF, EDITED_DIFF, make_run, store_at

TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
PROMPT = [
    {"role": "system", "content": "You are Repomind's agent."},
    {"role": "user", "content": "# Issue\nadd() subtracts"},
]
OFF_TRACK = {"right_track": False, "feedback": "view it first", "tokens": 5, "cost_usd": None}


def _step(n: int, tool: str, args: dict[str, Any], observation: str, **extra: Any) -> ev.StepTaken:
    return ev.StepTaken(
        n,
        f"thought {n}",
        tool,
        args,
        observation,
        "ok",
        extra.pop("review", None),
        10,
        5,
        None,
        0.1,
        call_id=f"call-{n}",
        **extra,
    )


def write_agent_run(directory: Path, *, protocol: str = "native", success: bool = True) -> Path:
    """An agent run as the recorder writes it: a failed first verification, then a verified one."""
    run_id = directory.name
    emit = ev.RunEvents(RunRecorder(RunArtifacts(directory, run_id))).emit
    stopped = Stopped.PASSED if success else Stopped.STEP_LIMIT
    report = SolveReport(run_id, success, success, stopped, "", "scripted", "0" * 40, strategy="agent")
    emit(ev.RunStarted(run_id, "octo/calc", report.commit, "scripted", "add() subtracts", 3, {}))
    emit(ev.AgentStarted(PROMPT, TOOLS, protocol, 40, 32_000))
    steps = [
        _step(1, "search", {"regex": "def add"}, "calc.py:1: def add(a, b):"),
        _step(
            2, "edit", {"path": "calc.py", "search": "-", "replace": "+"}, "view it first", review=OFF_TRACK
        ),
        ev.StepTaken(
            3, "hmm", "", {}, "no valid action: reply with one action", "no action", None, 5, 5, None, 0.1
        ),
        _step(4, "view", {"path": "calc.py", "line": 1}, "1: def add(a, b):\n2:     return a - b"),
        _step(5, "submit", {"summary": "too early"}, "verification failed: test_add still fails", attempt=1),
        _step(6, "edit", {"path": "calc.py", "search": "a - b", "replace": "a + b"}, "applied"),
        _step(7, "submit", {"summary": "add() adds"}, "verified", attempt=2),
    ]
    for step in steps:
        emit(step)
    for n in (1, 2):
        record = AttemptRecord(n, Category.PASSED if n == 2 else Category.TEST_FAILURE, "", diff=BOT_DIFF)
        record.verified = n == 2
        report.attempts.append(record)
        emit(ev.Reflected(record))
    report.steps, report.patch_attempt = len(steps), (2 if success else None)
    emit(ev.RunFinished(report, BOT_DIFF if success else ""))
    return directory


def feedback(merged: bool, merged_diff: str | None = BOT_DIFF) -> FeedbackView:
    return FeedbackView("octo/calc", 7, merged, 1, "add() subtracts", "", BOT_DIFF, merged_diff)


def test_an_accepted_agent_run_is_a_multi_turn_tool_trajectory(tmp_path: Path) -> None:
    run = read_run(write_agent_run(tmp_path / "run-1"))
    sft, kto = examples_from_run(run, feedback(True))
    assert isinstance(sft, Supervised) and sft.source == "agent-accepted" and sft.tools == TOOLS
    roles = [m["role"] for m in sft.messages]
    # the prompt, then search, view, the failed submit, the edit, each answered; the kept submit last
    assert roles == ["system", "user", *["assistant", "tool"] * 4, "assistant"]
    search = sft.messages[2]
    assert search["content"] == "thought 1"
    assert search["tool_calls"] == [
        {
            "id": "call-1",
            "type": "function",
            "function": {"name": "search", "arguments": '{"regex": "def add"}'},
        }
    ]
    assert sft.messages[3] == {
        "role": "tool",
        "tool_call_id": "call-1",
        "content": "calc.py:1: def add(a, b):",
    }
    assert "view it first" not in json.dumps(sft.messages)  # the off-track edit and the no-action reply
    assert "no valid action" not in json.dumps(sft.messages)  # are not part of the path to learn
    assert "test_add still fails" in sft.messages[7]["content"]  # a failed verification is learnt from
    assert sft.messages[-1]["tool_calls"][0]["function"]["name"] == "submit"
    assert json.loads(sft.messages[-1]["tool_calls"][0]["function"]["arguments"]) == {"summary": "add() adds"}
    assert sft.meta == {"run": "run-1", "attempt": 2, "steps": 7, "protocol": "native", "pr": 7}
    assert isinstance(kto, Unpaired) and kto.label and kto.completion == [sft.messages[-1]]
    assert kto.prompt == sft.messages[:-1]


def test_the_text_protocol_keeps_its_action_blocks(tmp_path: Path) -> None:
    run = read_run(write_agent_run(tmp_path / "run-1", protocol="text"))
    [sft, _kto] = examples_from_run(run, None, include_unreviewed=True)
    assert sft.source == "agent-verified-run"
    assert sft.messages[2] == {
        "role": "assistant",
        "content": 'thought 1\n\n```action\n{"tool": "search", "args": {"regex": "def add"}}\n```',
    }
    assert sft.messages[3] == {"role": "user", "content": "Observation:\ncalc.py:1: def add(a, b):"}


def test_rejected_and_edited_prs(tmp_path: Path) -> None:
    run = read_run(write_agent_run(tmp_path / "run-1"))
    [negative] = examples_from_run(run, feedback(False))
    assert isinstance(negative, Unpaired) and not negative.label and negative.source == "agent-rejected"
    assert negative.completion[0]["tool_calls"][0]["function"]["name"] == "submit"
    assert examples_from_run(run, feedback(True, EDITED_DIFF)) == []  # the trajectory did not make it
    failed = read_run(write_agent_run(tmp_path / "run-2", success=False))
    assert examples_from_run(failed, None, include_unreviewed=True) == []


def test_a_dataset_holds_both_kinds_and_reads_back(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    runs = tmp_path / "runs"
    write_agent_run(runs / "agent-run")
    make_run(runs, "pipeline-run", "mul() is wrong")  # schema 1 style: prompt and reply lines
    examples, counts = store_examples(store, runs, include_unreviewed=True)
    assert counts["unreviewed_runs"] == 2
    info = build_dataset(examples, tmp_path / "ds", eval_fraction=0.0)
    assert info.sources["agent-verified-run"] == 2 and info.sources["verified-run"] == 2
    sft = load_split(tmp_path / "ds", "sft", "train") + load_split(tmp_path / "ds", "sft", "eval")
    agent = [e for e in sft if isinstance(e, Supervised) and e.tools]
    plain = [e for e in sft if isinstance(e, Supervised) and not e.tools]
    assert len(agent) == 1 and agent[0].tools == TOOLS and len(agent[0].messages) == 11
    assert len(plain) == 1 and [m["role"] for m in plain[0].messages][-1] == "assistant"
    lines = (tmp_path / "ds" / "sft-train.jsonl").read_text() + (
        tmp_path / "ds" / "sft-eval.jsonl"
    ).read_text()
    records = [json.loads(line) for line in lines.splitlines()]
    assert sorted("tools" in r for r in records) == [False, True]  # single-turn records are unchanged


def test_every_assistant_turn_is_a_target_and_no_observation_is(tmp_path: Path) -> None:
    require("transformers")
    require("tokenizers")
    from repomind.testing.training import tiny_tokenizer
    from repomind.training.packing import IGNORE, knows_tools, text_turns, tokenise_turns

    run = read_run(write_agent_run(tmp_path / "run-1"))
    [sft, _kto] = examples_from_run(run, feedback(True))
    tok = tiny_tokenizer()
    assert not knows_tools(tok)  # ChatML without tools: the text protocol's rendering
    item = tokenise_turns(tok, sft.messages, 4096, sft.tools)
    assert item is not None
    spans: list[list[int]] = [[]]
    for label in item.labels:
        if label == IGNORE:
            if spans[-1]:
                spans.append([])
        else:
            spans[-1].append(label)
    texts = [tok.decode(span, skip_special_tokens=True) for span in spans if span]
    turns = [m for m in text_turns(sft.messages) if m["role"] == "assistant"]
    assert len(texts) == len(turns) == 5
    for text, turn in zip(texts, turns, strict=True):
        assert text.strip() == turn["content"].strip()
    assert '```action\n{"tool": "submit", "args": {"summary": "add() adds"}}\n```' in texts[-1]
    assert not any("Observation" in t or "calc.py:1: def add" in t for t in texts)
    assert tokenise_turns(tok, sft.messages, len(item) - 1, sft.tools) is None
    with pytest.raises(ValueError):
        tokenise_turns(tok, sft.messages[:-1], 4096, sft.tools)
