"""The run page's section of the agent's steps, read from the run's ``trajectory.jsonl`` in the shared
artifacts store (:mod:`repomind.store.artifacts`; live while the run goes: the worker puts it again after
every step, and a line that cannot be read is skipped).

Each step: its number, tool, arguments (compact), outcome, the reviewer's verdict and feedback, tokens,
cost and seconds; its thought, full arguments and observation folded in a ``<details>``. Every text is
redacted, then escaped by the template (``templates/run_steps.html.j2``, autoescaped), and cut to
:data:`TEXT_CHARS`; at most the last :data:`PAGE_STEPS` steps are shown.
"""

from __future__ import annotations

import json
from typing import Any

from repomind.pipeline.solve.account import parse_lines, steps_of_lines
from repomind.redact import redact
from repomind.store.artifacts import Artifacts, text_of, valid_run_id
from repomind.templating import environment

#: Steps shown (the latest); the agent's own limit is at most 200.
PAGE_STEPS = 200
#: Characters shown of one thought, observation or argument list.
TEXT_CHARS = 4_000


def _cut(text: str) -> str:
    text = redact(text)
    if len(text) <= TEXT_CHARS:
        return text
    return text[:TEXT_CHARS] + f"\n… ({len(text) - TEXT_CHARS:,} more characters in trajectory.jsonl)"


def steps_section(artifacts: Artifacts, run_id: str) -> str:
    """The HTML of the agent's steps of run ``run_id``; ``""`` for a run without an agent (or none)."""
    raw = text_of(artifacts, run_id, "trajectory.jsonl") if valid_run_id(run_id) else None
    start, steps = steps_of_lines(parse_lines(raw or ""))
    if start is None:
        return ""
    rows: list[dict[str, Any]] = []
    for step in steps[-PAGE_STEPS:]:
        review = step.review or {}
        rows.append(
            {
                "step": step.step,
                "tool": redact(step.tool),
                "brief": redact(step.brief),
                "outcome": redact(step.outcome),
                "verdict": (
                    "" if step.review is None else "on track" if review.get("right_track") else "off track"
                ),
                "feedback": redact(str(review.get("feedback") or "")),
                "tokens": step.prompt_tokens + step.completion_tokens,
                "cost": "" if step.cost_usd is None else f"{step.cost_usd:.4f}",
                "seconds": f"{step.seconds:.1f}",
                "thought": _cut(step.thought),
                "args": _cut(json.dumps(step.args, indent=2, ensure_ascii=False)),
                "observation": _cut(step.observation),
            }
        )
    template = environment("repomind.server", html=True).get_template("run_steps.html.j2")
    return template.render(
        steps=rows,
        count=len(steps),
        left_out=max(0, len(steps) - PAGE_STEPS),
        max_steps=start.get("max_steps") or 0,
        protocol=str(start.get("protocol") or ""),
    )
