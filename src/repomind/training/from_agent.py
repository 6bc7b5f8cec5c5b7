"""Examples from the agent's runs: multi-turn tool trajectories (schema 2's ``agent-start`` and ``step``
lines), labelled by what maintainers did with the PR as :mod:`repomind.training.from_runs` labels a
pipeline run's final patch.

The conversation is the ``agent-start`` messages, then per step the assistant's turn (its thought and its
tool call: ``tool_calls`` in the native protocol, a fenced ``action`` block in the text protocol) and the
observation (a ``tool`` turn answering the call, or a ``user`` turn ``Observation: ...``), up to the
``submit`` whose verification gave the kept patch: the conversation ends with that assistant turn. The
example carries the tools offered. Steps the reviewer judged off track (they did not run) and replies with
no valid action are left out of an accepted trajectory: it shows the path as it should have gone.

* merged unchanged, or (``include_unreviewed``) verified and passing: a supervised example
  (``agent-accepted`` / ``agent-verified-run``; every assistant turn is a target) and a KTO positive;
* closed unmerged: a KTO negative (the final submit's turn, given the conversation before it);
* merged with the maintainers' edits: no trajectory made the merged diff, so none (the caller falls back
  to the issue-only example).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from repomind.pipeline.solve.account import Step
from repomind.training.examples import Example, Message, Supervised, Unpaired, same_patch

if TYPE_CHECKING:
    from repomind.training.from_runs import FeedbackView, RunView


@dataclass
class AgentView:
    """What training needs of an agent run: its first messages, the tools, the protocol and the steps."""

    messages: list[Message]
    tools: list[dict[str, Any]]
    protocol: str
    steps: list[Step] = field(default_factory=list)


def agent_view(events: list[dict[str, Any]]) -> AgentView | None:
    """The agent's part of a trajectory's lines; None for a run without one (schema 1, the pipeline)."""
    start = next((e for e in events if e.get("type") == "agent-start"), None)
    if start is None:
        return None
    return AgentView(
        messages=list(start.get("messages") or []),
        tools=list(start.get("tools") or []),
        protocol=str(start.get("protocol") or "native"),
        steps=[Step.from_line(e) for e in events if e.get("type") == "step"],
    )


def _call_id(step: Step) -> str:
    return step.call_id or f"call_{step.step}"


def assistant_turn(step: Step, protocol: str) -> Message:
    """The model's turn of ``step`` as it was sent back to the model."""
    if not step.tool:
        return {"role": "assistant", "content": step.thought}
    if protocol == "native":
        call = {"name": step.tool, "arguments": json.dumps(step.args, ensure_ascii=False)}
        return {
            "role": "assistant",
            "content": step.thought,
            "tool_calls": [{"id": _call_id(step), "type": "function", "function": call}],
        }
    action = json.dumps({"tool": step.tool, "args": step.args}, ensure_ascii=False)
    lead = f"{step.thought.strip()}\n\n" if step.thought.strip() else ""
    return {"role": "assistant", "content": f"{lead}```action\n{action}\n```"}


def observation_turn(step: Step, protocol: str) -> Message:
    """What the model read after ``step``."""
    if protocol == "native" and step.tool:
        return {"role": "tool", "tool_call_id": _call_id(step), "content": step.observation}
    return {"role": "user", "content": f"Observation:\n{step.observation}"}


def conversation(agent: AgentView, kept: int) -> list[Message] | None:
    """The trajectory up to the ``submit`` verified as attempt ``kept`` (ending with that assistant turn);
    None when no such submit exists."""
    messages: list[Message] = [dict(m) for m in agent.messages]
    for step in agent.steps:
        if step.rejected or not step.tool:
            continue
        messages.append(assistant_turn(step, agent.protocol))
        if step.tool == "submit" and step.attempt == kept:
            return messages
        messages.append(observation_turn(step, agent.protocol))
    return None


def examples_from_agent(
    run: RunView, agent: AgentView, feedback: FeedbackView | None, *, include_unreviewed: bool = False
) -> list[Example]:
    """The examples one agent run gives, labelled by its feedback (see the module's docstring)."""
    if run.patch_attempt is None:
        return []
    messages = conversation(agent, run.patch_attempt)
    if messages is None:
        return []
    from repomind.training.from_runs import issue_key  # from_runs imports this module

    issue = feedback.issue_key if feedback is not None else issue_key(run)
    meta: dict[str, Any] = {
        "run": run.run_id,
        "attempt": run.patch_attempt,
        "steps": len(agent.steps),
        "protocol": agent.protocol,
    }
    prompt, last = messages[:-1], [messages[-1]]
    tools = agent.tools
    if feedback is not None:
        meta["pr"] = feedback.pr_number
        if not feedback.merged:
            return [Unpaired(issue, "agent-rejected", prompt, last, False, meta, tools=tools)]
        merged, bot = (feedback.merged_diff or "").strip(), (feedback.bot_diff or "").strip()
        if merged and not (merged == bot or same_patch(merged, bot)):
            return []
        source = "agent-accepted"
    elif include_unreviewed and run.success:
        source = "agent-verified-run"
    else:
        return []
    return [
        Supervised(issue, source, messages, meta, tools=tools),
        Unpaired(issue, source, prompt, last, True, meta, tools=tools),
    ]
