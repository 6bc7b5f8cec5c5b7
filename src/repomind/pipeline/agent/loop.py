"""The repair agent's loop: at each step the model chooses one action (search, view, edit, run_tests,
submit) with its reasoning; a reviewer may judge it first; the tool runs and its observation is the next
message. A ``submit`` runs the test stage's verification; a failure goes back to the model while steps and
budget remain. Every way the loop ends is an :class:`AgentExit` (mini-swe-agent's exits as exceptions),
caught once in :meth:`AgentLoop.run`, which stops the run with it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from repomind.pipeline.agent import prompts
from repomind.pipeline.agent.actions import TOOL_SPECS, Action, NoAction, actions_from_completion, check_args
from repomind.pipeline.agent.condense import condense
from repomind.pipeline.agent.protocol import (
    assistant_message,
    choose_protocol,
    no_action_messages,
    observation_messages,
    render_text_format,
)
from repomind.pipeline.agent.review import Reviewer, Verdict
from repomind.pipeline.agent.tools import Observation, ToolBox
from repomind.pipeline.llm import (
    BudgetExceeded,
    Completion,
    LanguageModel,
    LLMError,
    Message,
    estimate_tokens,
)
from repomind.pipeline.solve.attempt import judge_tree
from repomind.pipeline.solve.context import tracked_files
from repomind.pipeline.solve.events import AgentStarted, BudgetSpent, Reflected, StepTaken
from repomind.pipeline.solve.outcome import Stopped
from repomind.pipeline.solve.prepare import Prepared
from repomind.pipeline.solve.reflect import ADVICE
from repomind.pipeline.solve.request import SolveReport
from repomind.pipeline.solve.workspace import changed_paths
from repomind.pipeline.toolchain.protocol import trim

#: Tokens the tools' definitions take in a native request (kept out of the prompt's share).
TOOLS_TOKENS = estimate_tokens([{"role": "system", "content": json.dumps(TOOL_SPECS)}])
#: Characters of a failed verification's evidence in the observation.
EVIDENCE_CHARS = 4_000


class AgentExit(Exception):
    """The loop ends: the run stops with ``stopped`` and ``message``."""

    def __init__(self, stopped: Stopped, message: str) -> None:
        super().__init__(message)
        self.stopped, self.message = stopped, message


class AgentLoop:
    """One agent run on a prepared run (:class:`~repomind.pipeline.solve.prepare.Prepared`)."""

    def __init__(self, p: Prepared, *, reviewer_model: LanguageModel | None = None) -> None:
        self.p, self.ctx, self.report = p, p.ctx, p.run.report
        config = p.config
        self.max_steps = p.request.max_steps or config.max_steps
        self.max_prompt_tokens = config.max_prompt_tokens
        self.protocol = choose_protocol(self.ctx.model, config.tool_protocol)
        self.reviewer = Reviewer(reviewer_model or self.ctx.model, self.ctx.budget, config.review_steps)
        self.tree = self.ctx.workspace.work_tree("agent")
        self.shown = {v.path for v in p.views}
        self.box = ToolBox(self.ctx, self.tree, shown=self.shown)
        self.messages: list[Message] = prompts.first_messages(
            p.issue,
            facts=self.ctx.toolchain.facts,
            localisation=p.localisation,
            views=p.views,
            others=p.others,
            files=tracked_files(self.tree),
            instructions=p.guidance,
            hint=p.hint,
            feedback=p.feedback,
            text_format=render_text_format() if self.protocol == "text" else "",
        )
        self.trail: list[str] = []
        self.steps = 0
        self.edits = 0
        self.last_key: tuple[str, str, int] | None = None
        self.repeats = 0
        self.timings: dict[str, float] = {"model": 0.0, "review": 0.0, "verify": 0.0}
        #: Tokens and cost of the steps since the last submit: what the next attempt row is charged.
        self.spent_tokens: int = 0
        self.spent_cost: float | None = None

    def run(self) -> SolveReport:
        self.ctx.events.emit(
            AgentStarted(
                list(self.messages),
                list(TOOL_SPECS),
                self.protocol,
                self.max_steps,
                self.max_prompt_tokens,
            )
        )
        started = time.monotonic()
        try:
            while True:
                self.step()
        except AgentExit as exit_:
            stopped, message = exit_.stopped, exit_.message
        self.timings["agent"] = time.monotonic() - started
        self.p.run.timings.update({k: round(v, 3) for k, v in self.timings.items()})
        self.report.steps = self.steps
        self.report.review = self.reviewer.to_json() if self.reviewer.calls else {}
        return self.p.run.stop(stopped, message)

    def step(self) -> None:
        """One action: ask, read, (review), run, observe; raises :class:`AgentExit` to end the loop."""
        if self.p.should_cancel():
            raise AgentExit(Stopped.CANCELLED, f"cancelled before step {self.steps + 1}")
        if self.steps >= self.max_steps:
            raise AgentExit(Stopped.STEP_LIMIT, f"no verified submission in {self.max_steps} steps")
        self.steps += 1
        started = time.monotonic()
        completion = self._ask()
        try:
            actions = actions_from_completion(completion)
        except NoAction as exc:
            self._observe(None, completion, Observation(str(exc), "no valid action", ok=False), None, started)
            return
        for extra in actions[1:]:  # every native call gets an answer; only the first runs
            self.messages += observation_messages(
                extra, "Not run: one action per step; only the first ran.", self.protocol
            )
        try:
            action = check_args(actions[0])
        except NoAction as exc:
            self._observe(
                actions[0], completion, Observation(str(exc), "invalid arguments", ok=False), None, started
            )
            return
        repeated = self._repeated(action)
        if repeated:
            self._observe(action, completion, repeated, None, started)
            return
        verdict = self._review(action)
        if verdict is not None and not verdict.right_track:
            text = (
                "A reviewer judged this action off track, so it did not run. The reviewer's feedback: "
                f"{verdict.feedback or '(none given)'}"
            )
            self._observe(
                action, completion, Observation(text, "refused: off track", ok=False), verdict, started
            )
            return
        observation, attempt = self._run(action)
        self._observe(action, completion, observation, verdict, started, attempt=attempt)
        if attempt is not None and self.report.attempts[-1].passed:
            raise AgentExit(Stopped.PASSED, self.report.attempts[-1].summary)

    def _ask(self) -> Completion:
        native = self.protocol == "native"
        prompt = condense(self.messages, self.max_prompt_tokens, reserve=TOOLS_TOKENS if native else 0)
        started = time.monotonic()
        try:
            self.ctx.budget.check(estimate_tokens(prompt) + (TOOLS_TOKENS if native else 0))
            completion = self.ctx.model.complete(prompt, tools=TOOL_SPECS if native else None)
        except BudgetExceeded as exc:
            self.steps -= 1
            self.ctx.events.emit(
                BudgetSpent(len(self.report.attempts) + 1, str(exc), self.ctx.budget.to_json())
            )
            raise AgentExit(Stopped.BUDGET, str(exc)) from None
        except LLMError as exc:
            self.steps -= 1
            raise AgentExit(Stopped.LLM_ERROR, str(exc)) from None
        finally:
            self.timings["model"] += time.monotonic() - started
        self.ctx.budget.charge(completion)
        if completion.tool_calls and not native:
            self.protocol = "native"  # the model calls tools natively after all: answer it in kind
        self.messages.append(assistant_message(completion, self.protocol))
        return completion

    def _repeated(self, action: Action) -> Observation | None:
        """The same action twice in a row with nothing edited between: told once, then the run stops."""
        key = (action.tool, json.dumps(action.args, sort_keys=True), self.edits)
        self.repeats = self.repeats + 1 if key == self.last_key else 0
        self.last_key = key
        if self.repeats == 0:
            return None
        if self.repeats >= 2:
            raise AgentExit(
                Stopped.REPEATED,
                f"the agent repeated the same action ({action.tool}) after being told it had",
            )
        return Observation(
            "You just took this exact action and nothing has changed since; its result is above. "
            "Take a different action (another search, view or edit), or submit.",
            "repeated: not run",
            ok=False,
        )

    def _review(self, action: Action) -> Verdict | None:
        if not self.reviewer.wants(action.tool):
            return None
        started = time.monotonic()
        try:
            return self.reviewer.judge(self.p.issue, self.trail, action.tool, action.args, action.thought)
        except BudgetExceeded as exc:
            self.ctx.events.emit(
                BudgetSpent(len(self.report.attempts) + 1, str(exc), self.ctx.budget.to_json())
            )
            raise AgentExit(Stopped.BUDGET, str(exc)) from None
        except LLMError as exc:
            raise AgentExit(Stopped.LLM_ERROR, f"the reviewer's model failed: {exc}") from None
        finally:
            self.timings["review"] += time.monotonic() - started

    def _run(self, action: Action) -> tuple[Observation, int | None]:
        started = time.monotonic()
        try:
            if action.tool == "submit":
                return self._submit(str(action.args.get("summary", "")))
            tool: Callable[..., Observation] = getattr(self.box, action.tool)
            observation = tool(**action.args)
            if action.tool == "edit" and observation.ok:
                self.edits += 1
            return observation, None
        finally:
            key = f"tool.{action.tool}"
            self.timings[key] = self.timings.get(key, 0.0) + time.monotonic() - started

    def _submit(self, summary: str) -> tuple[Observation, int | None]:
        if not changed_paths(self.tree):
            return Observation(
                "Nothing is changed yet: edit the files, then submit.", "nothing to submit", ok=False
            ), None
        number = len(self.report.attempts) + 1
        started = time.monotonic()
        record = judge_tree(self.ctx, number, self.tree, edits_text=summary)
        record.seconds = round(time.monotonic() - started, 3)
        self.timings["verify"] += time.monotonic() - started
        self.report.attempts.append(record)
        self.ctx.events.emit(Reflected(record))
        if record.passed:
            return Observation(f"Verified: {record.summary}", "verified"), number
        left = self.max_steps - self.steps
        text = (
            f"Verification {number} failed ({record.category.value}): {record.summary}\n\n"
            f"{trim(record.evidence, EVIDENCE_CHARS)}\n\n{ADVICE.get(record.category, '')}\n"
            f"You have {left} step(s) left: fix it and submit again."
        )
        return Observation(text.strip(), f"verification {number}: {record.category.value}", ok=False), number

    def _observe(
        self,
        action: Action | None,
        completion: Completion,
        observation: Observation,
        verdict: Verdict | None,
        started: float,
        *,
        attempt: int | None = None,
    ) -> None:
        tool, args = (action.tool, action.args) if action else ("", {})
        thought = action.thought if action else completion.text
        self.spent_tokens += completion.prompt_tokens + completion.completion_tokens
        if completion.cost_usd is not None:
            self.spent_cost = (self.spent_cost or 0.0) + completion.cost_usd
        if attempt is not None:  # the attempt is charged the steps that led to its submit
            record = self.report.attempts[attempt - 1]
            record.tokens = self.spent_tokens
            record.cost_usd = None if self.spent_cost is None else round(self.spent_cost, 6)
            self.spent_tokens, self.spent_cost = 0, None
        self.ctx.events.emit(
            StepTaken(
                step=self.steps,
                thought=thought,
                tool=tool,
                args=dict(args),
                observation=observation.text,
                outcome=observation.outcome,
                review=verdict.to_json() if verdict else None,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd,
                seconds=round(time.monotonic() - started, 3),
                call_id=action.call_id if action else None,
                attempt=attempt,
                model_seconds=round(completion.seconds, 3),
            )
        )
        shown = prompts.describe_action(tool or "no action", args, limit=prompts.TRAIL_ARG_CHARS)
        self.trail.append(f"{self.steps}. {shown} -> {observation.outcome}")
        if action is None:  # every native call of the reply still gets its answer
            self.messages += no_action_messages(completion, observation.text, self.protocol)
        else:
            self.messages += observation_messages(action, observation.text, self.protocol)


def run_agent(p: Prepared, *, reviewer_model: LanguageModel | None = None) -> SolveReport:
    """The agent strategy's part of a run."""
    return AgentLoop(p, reviewer_model=reviewer_model).run()
