"""The "Repomind" check run on the bot's PR head: ``in_progress`` while a job works on the PR, then
completed with the verification as its output (title, summary, the evidence table as text, and an
annotation for each new lint problem on a line the change added).

A job's check runs carry its id as ``external_id``, so a job taken over after a crash finds the run it
began instead of opening another. The check is a report, never the job's work: a GitHub error here (an
installation that has not granted ``checks: write`` yet, say) is logged and the job goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from repomind.bot.github.protocol import CheckAnnotation, CheckOutput, GitHub, GitHubError
from repomind.bot.render import render, text
from repomind.bot.solving.pipeline_port import PipelineOutcome
from repomind.pipeline.solve.outcome import OutcomeStatus
from repomind.pipeline.toolchain.protocol import LintProblem
from repomind.store import Job

CHECK_NAME = "Repomind"
#: GitHub's cap on a check run output's summary and text.
MAX_OUTPUT = 65_535
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def added_lines(diff: str) -> dict[str, set[int]]:
    """The new-side line numbers each file's added lines have in a unified diff."""
    lines: dict[str, set[int]] = {}
    path: str | None = None
    number = 0
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:].strip()
            path = None if target == "/dev/null" else target.removeprefix("b/")
            continue
        hunk = _HUNK.match(line)
        if hunk:
            number = int(hunk.group(1))
            continue
        if path is None or line.startswith(("--- ", "\\")):
            continue
        if line.startswith("+"):
            lines.setdefault(path, set()).add(number)
            number += 1
        elif line.startswith(" ") or line == "":
            number += 1
    return lines


def lint_annotations(lint: tuple[LintProblem, ...], diff: str) -> tuple[CheckAnnotation, ...]:
    """A ``failure`` annotation for each lint problem on a line the change added (at most 50)."""
    changed = added_lines(diff)
    return tuple(
        CheckAnnotation(p.path, p.line, p.line, "failure", p.message, title=f"lint: {p.kind}")
        for p in lint
        if p.line in changed.get(p.path, set())
    )[:50]


def conclusion(state: str, outcome: PipelineOutcome | None) -> str:
    """The verdict as a check conclusion: a verified PR ``success``, one not verified against the issue
    ``neutral``, no passing patch or an error ``failure``, any other ending (cancelled, needs a hint,
    refused) ``neutral``."""
    if state == "pr-ready":
        return "success" if outcome is not None and outcome.evidence.verified else "neutral"
    if state == "error" or (outcome is not None and outcome.status is OutcomeStatus.FAILED):
        return "failure"
    return "neutral"


def _cap(value: str) -> str:
    return value if len(value) <= MAX_OUTPUT else value[: MAX_OUTPUT - 40] + "\n\n… (cut at GitHub's limit)"


@dataclass
class RepomindCheck:
    """One job's check runs: :meth:`begin` on a head (in progress), :meth:`finish` with the verdict."""

    github: GitHub
    job: Job
    run_url: str | None
    log: Any
    #: The pipeline's outcome once there is one (the verdict's source).
    outcome: PipelineOutcome | None = None
    #: The PR's head once the job published it (its check gets the verdict).
    head: str | None = None
    _runs: dict[str, int] = field(default_factory=dict)

    def begin(self, head_sha: str) -> None:
        """The job's in-progress check run on ``head_sha`` (found again after a crash, else created)."""
        if not head_sha or head_sha in self._runs:
            return
        try:
            mine = [
                r
                for r in self.github.list_check_runs(self.job.repo, head_sha)
                if r.name == CHECK_NAME and r.external_id == str(self.job.id)
            ]
            if mine:
                self._runs[head_sha] = mine[0].id
                return
            facts = self._facts(state="running")
            made = self.github.create_check_run(
                self.job.repo,
                name=CHECK_NAME,
                head_sha=head_sha,
                status="in_progress",
                external_id=str(self.job.id),
                details_url=self.run_url,
                output=CheckOutput(text("check_title", **facts), render("check_summary", **facts)),
            )
            self._runs[head_sha] = made.id
        except GitHubError as exc:
            self.log.warning("could not start the check run", sha=head_sha, error=str(exc))

    def finish(self, ending: str, *, headline: str, why: str | None) -> None:
        """Complete the job's runs: on :attr:`head` (the PR's head after the job) with the verdict, on
        any other head it began on as superseded (a push) or with the verdict (no push)."""
        head_sha = self.head
        if head_sha:
            self.begin(head_sha)
        try:
            for sha, run_id in self._runs.items():
                if head_sha and sha != head_sha:
                    facts = self._facts(state="superseded", new_sha=head_sha)
                    output = CheckOutput(text("check_title", **facts), render("check_summary", **facts))
                    self.github.update_check_run(
                        self.job.repo, run_id, status="completed", conclusion="neutral", output=output
                    )
                    continue
                verdict = conclusion(ending, self.outcome)
                output = self._verdict(ending, verdict, headline, why)
                self.github.update_check_run(
                    self.job.repo, run_id, status="completed", conclusion=verdict, output=output
                )
        except GitHubError as exc:
            self.log.warning("could not complete the check run", error=str(exc))

    def _verdict(self, ending: str, verdict: str, headline: str, why: str | None) -> CheckOutput:
        out = self.outcome
        pr_ready = ending == "pr-ready" and out is not None
        lint = lint_annotations(out.lint, out.diff) if pr_ready and out is not None else ()
        facts = self._facts(
            state=verdict,
            pr_ready=pr_ready,
            headline=headline,
            why=why,
            summary=out.summary if out else "",
            fixed=len(out.evidence.fixed) if out else 0,
            lint=lint,
        )
        body = ""
        if out is not None and pr_ready:
            body = render(
                "check_text",
                evidence=out.evidence,
                attempts=out.attempts,
                model=out.model,
                tokens=out.tokens,
                cost_usd=out.cost_usd,
            )
        return CheckOutput(
            text("check_title", **facts), _cap(render("check_summary", **facts)), _cap(body), lint
        )

    def _facts(self, **facts: Any) -> dict[str, Any]:
        return {"job_id": self.job.id, "trigger": self.job.trigger, "run_url": self.run_url, **facts}
