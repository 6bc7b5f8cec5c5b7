"""Runs one job: config → checkout → pipeline → commit and push → draft PR, resumable after a crash.

Each stage records what it made in the ledger before the next starts (status comment id, the pipeline's
outcome, the pushed commit, the PR number), and each looks for its artefact before making it, so a job
taken over from a dead worker finishes with one status comment, one branch and one PR.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from structlog.contextvars import bound_contextvars, unbind_contextvars

from repomind import repoconfig
from repomind.bot.checks import RepomindCheck
from repomind.bot.commands.options import BotOptions, branch_for
from repomind.bot.github import gitops
from repomind.bot.github.branch import BranchWriter
from repomind.bot.github.protocol import (
    GitHub,
    GitHubError,
    GitHubFactory,
    Issue,
    PullRequest,
    Repository,
    is_bot_pull,
)
from repomind.bot.github.ratelimit import reporting_waits
from repomind.bot.jobs.bot_run import BotRun, Ended, Ending, pushed_note
from repomind.bot.jobs.stage_clock import StageClock, bind_stage
from repomind.bot.render import marker, render, text
from repomind.bot.solving.pipeline_port import Hints, Pipeline, PipelineJob, PipelineOutcome
from repomind.bot.solving.uploads import RunUploads
from repomind.bot.status import SLOT_EVENT, StatusComment
from repomind.compose.config import RunConfig, resolve, served_model
from repomind.errors import ConfigError, RepomindError
from repomind.log import get_logger
from repomind.pipeline.edits.guard import (
    HOW_TO_ALLOW,
    PathGuard,
    diff_paths,
    outside_source,
    refusal_text,
)
from repomind.pipeline.solve.account import account_of
from repomind.pipeline.solve.events import RunEvents
from repomind.pipeline.solve.outcome import OutcomeStatus
from repomind.pipeline.strategies import strategy_for
from repomind.redact import SECRETS, Redactor
from repomind.store import Job, JobState, Ledger
from repomind.store.artifacts import Artifacts
from repomind.store.joblog import first_event
from repomind.store.jobs import Heartbeat
from repomind.store.jobs import LeaseEnded as Stop  # the job stops at this stage boundary
from repomind.store.limits import budget_reached, remaining_budget, running_jobs, waiting_for_a_slot
from repomind.store.queue import Kind, Queue


class JobRunner:
    def __init__(
        self,
        ledger: Ledger,
        github: GitHubFactory,
        pipeline: Pipeline,
        queue: Queue,
        options: BotOptions,
        artifacts: Artifacts | None = None,
    ) -> None:
        self.ledger = ledger
        #: Where the run's files go when it ends (the shared store); None keeps them on this disk only.
        self.artifacts = artifacts
        self.github = github
        self.pipeline = pipeline
        self.queue = queue
        self.options = options
        self.log: Any = get_logger("repomind.worker")

    def run(self, job_id: int) -> None:
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        limit = self.options.limits.max_concurrent_jobs
        job = self.ledger.claim(job_id, owner, self.options.lease_s, max_concurrent=limit)
        if job is None:  # finished, held, behind another job of its issue, or its installation is full
            self.log.debug("job not claimable", job=job_id)
            if limit is not None:
                self._held_back(job_id, limit)
            return
        # every log line of the job carries its ids (repomind.log); the stages bind their own
        with bound_contextvars(job_id=job.id, delivery_id=job.delivery_id):
            log = self.log.bind(job=job.id, repo=job.repo, issue=job.issue_number, claim=job.claims)
            log.info("job started", command=job.command)
            beat = Heartbeat(self.ledger, job.id, owner, self.options.lease_s, log=log)
            try:
                self._run_claimed(job, beat, log)
            finally:  # the lease is renewed until the job's end is recorded (or another worker has it)
                beat.stop()
                unbind_contextvars("stage")

    def _held_back(self, job_id: int, limit: int) -> None:
        """A queued job refused because its installation runs ``limit`` jobs: its status comment and live
        log say it waits for a slot, once per job (a later refusal of the same job changes nothing)."""
        job = self.ledger.job(job_id)
        if job.state is not JobState.QUEUED or self.ledger.next_queued(job.repo, job.issue_number) != job.id:
            return  # ended, or queued behind a job of its own issue (its comment says so already)
        running = running_jobs(self.ledger, job.installation_id)
        if running < limit or first_event(self.ledger, job.id, SLOT_EVENT) is not None:
            return
        gh = self.github.for_installation(job.installation_id)
        status = StatusComment(
            gh, self.ledger, job, run_url=self.options.run_url(job.id), login=self.options.login
        )
        try:
            status.held_back(text("stage", step="slot", running=running, limit=limit))
        except GitHubError as exc:  # best effort: the live log has the line, the job still waits
            self.log.info("could not show the wait for a slot", job=job.id, error=str(exc))

    def _run_claimed(self, job: Job, beat: Heartbeat, log: Any) -> None:
        gh = self.github.for_installation(job.installation_id)
        status = StatusComment(
            gh, self.ledger, job, run_url=self.options.run_url(job.id), login=self.options.login
        )
        run = BotRun(job, status)
        check = RepomindCheck(gh, job, self.options.run_url(job.id), log)
        try:
            with reporting_waits(status.rate_limited):  # a long wait for GitHub's rate limit is shown
                ended = self._run(job, gh, run, beat, check)
        except Stop as stop:
            if stop.reason == "lost":
                log.warning("lease lost: another worker has this job")
                return
            ended = run.stop(Ending.CANCELLED, pushed=pushed_note(self.ledger.job(job.id)))
        except Exception as exc:  # the worker's edge: any failure is reported on the issue, not swallowed
            message = Redactor([gh_token(gh)], parent=SECRETS)(str(exc) or type(exc).__name__)
            log.exception("job failed with an error")
            ended = Ended(JobState.FAILED, message)
            try:
                run.stop(Ending.ERROR, message=message, pushed=pushed_note(self.ledger.job(job.id)))
            except Exception:  # GitHub itself may be what failed; the ledger still records the error
                log.exception("could not report the error on GitHub")
        finally:
            shutil.rmtree(self._work_tree(job.id), ignore_errors=True)
        check.finish(run.ending.value, headline=text("headline", ending=run.ending), why=ended.error)
        self.ledger.finish(job.id, ended.state, error=ended.error)
        log.info("job finished", state=ended.state.value)
        following = self.ledger.next_queued(job.repo, job.issue_number)
        if following is not None:
            self.queue.enqueue(Kind.RUN_JOB, following)
        limit = self.options.limits.max_concurrent_jobs
        if limit is not None:  # a slot of the installation is free: offer it to the jobs waiting for one
            for waiting in waiting_for_a_slot(self.ledger, job.installation_id, limit):
                if waiting != following:
                    self.queue.enqueue(Kind.RUN_JOB, waiting)

    def _work_tree(self, job_id: int) -> Path:
        return self.options.work_dir / f"job-{job_id}"

    def _run(self, job: Job, gh: GitHub, run: BotRun, beat: Heartbeat, check: RepomindCheck) -> Ended:
        status = run.status
        beat.boundary()
        limits = self.options.limits
        defaults = self.options.defaults
        if job.result is None:  # a job resumed after its pipeline ran has spent its budget already
            reached = budget_reached(self.ledger, job.installation_id, limits)
            if reached is not None:
                return run.stop(
                    Ending.BUDGET_REACHED,
                    spent=reached.spent_usd,
                    budget=reached.budget_usd,
                    resets=reached.resets_at.strftime("%Y-%m-%d %H:%M UTC"),
                )
            left = remaining_budget(self.ledger, job.installation_id, limits)
            if left is not None and (defaults.max_budget_usd is None or left < defaults.max_budget_usd):
                defaults = replace(defaults, max_budget_usd=left)  # a run never spends past the month's cap
        run.start()
        repo = gh.get_repository(job.repo)
        try:
            run_config = resolve(
                defaults,
                repoconfig.read_default_branch(gh, repo.full_name, repo.default_branch),
                adapter=served_model(defaults, self.ledger, job.installation_id),
            )
            strategy_for(run_config.strategy)  # an unknown strategy is the configuration's fault
        except ConfigError as exc:
            return run.stop(Ending.CONFIG_INVALID, message=str(exc), branch=repo.default_branch)
        config = run_config.repo
        if run_config.notes:
            status.update(notes=run_config.notes)
        current = gh.get_issue(job.repo, job.issue_number)
        issue, note = frozen_issue(job, current)
        status.update(issue_note=note)
        last = self.ledger.last_push(job.repo, job.issue_number)
        branch = last.branch if last is not None and last.branch else branch_for(job.issue_number)
        token = gh.installation_token().token
        revise = job.command == "revise" and gitops.remote_has_branch(repo.clone_url, branch, token=token)
        open_pr = self._open_pull(gh, repo, branch)
        if open_pr is not None:  # the PR's check says a job is working on it
            check.begin(open_pr.head_sha)
        beat.boundary()
        run.stage("checkout")
        tree = gitops.clone(
            repo.clone_url, self._work_tree(job.id), token=token, branch=branch if revise else None
        )
        beat.boundary()

        if job.result is not None:  # a worker died after the pipeline finished: resume from its outcome
            outcome = PipelineOutcome.from_json(job.result)
            status.view = status.view.with_outcome(outcome)
            recorded = job.base_sha is not None and gitops.has_commit(tree, job.base_sha)
            base = job.base_sha if recorded and job.base_sha else gitops.head_sha(tree)
        else:
            base = gitops.head_sha(tree)
            outcome = self._pipeline(job, run_config, issue, Path(tree.working_dir), run, beat, base)
        check.outcome = outcome
        beat.boundary()
        latest = self.ledger.job(job.id)  # an edit of the issue during the run is named, not used
        status.view = replace(status.view, issue_note=frozen_issue(latest, current)[1])

        if outcome.status is OutcomeStatus.CANCELLED:
            raise Stop("cancel")
        if outcome.status is OutcomeStatus.NEEDS_HINT:
            size = len(outcome.localisation.set or []) if outcome.localisation else 0
            return run.stop(Ending.NEEDS_HINT, size=size, max_set_size=config.max_set_size)
        refused = PathGuard.of(config.protected_paths, config.ignore_paths).refusals(diff_paths(outcome.diff))
        if outcome.status is OutcomeStatus.SUCCESS and refused:  # any diff, whoever made it: never pushed
            return run.stop(Ending.PROTECTED_PATHS, refusal=refusal_text(refused), how_to_allow=HOW_TO_ALLOW)
        if outcome.status is not OutcomeStatus.SUCCESS or not outcome.diff.strip():
            return run.stop(Ending.NO_PATCH, explanation=outcome.explanation)

        run.stage("pushing")  # also the ``stage`` of the log lines from here on
        push_started = time.monotonic()
        note = ""
        if job.head_sha is None:
            message = SECRETS.text(text("commit", issue=issue, summary=outcome.summary, title_only=False))
            writer = BranchWriter(
                tree,
                repo.clone_url,
                gh.installation_token().token,
                self.ledger,
                self.options.identity,
                signoff=config.signoff,
            )
            pushed = writer.put(job, base=base, diff=outcome.diff, message=message)
            self.ledger.update_job(job.id, head_sha=pushed.sha, branch=pushed.branch, bot_diff=outcome.diff)
            branch, note = pushed.branch, pushed.note
            check.begin(pushed.sha)
        else:  # pushed before a crash: every later step finds what it made instead of making it again
            branch = job.branch or branch
        beat.boundary()
        pr = self._publish(job, gh, repo, issue, branch, outcome)
        self._timed(job.id, "push", time.monotonic() - push_started)
        check.head = pr.head_sha
        return run.stop(Ending.PR_READY, pr=pr, note=note)

    def _timed(self, job_id: int, stage: str, seconds: float) -> None:
        """Add one duration to the job's ``result["timings"]`` (read by /metrics from the ledger)."""
        result = dict(self.ledger.job(job_id).result or {})
        timings = dict(result.get("timings") or {})
        timings[stage] = [*timings.get(stage, []), round(seconds, 3)]
        self.ledger.update_job(job_id, result={**result, "timings": timings})

    def _pipeline(
        self,
        job: Job,
        config: RunConfig,
        issue: Issue,
        work_tree: Path,
        run: BotRun,
        beat: Heartbeat,
        base: str,
    ) -> PipelineOutcome:
        include, exclude = self.ledger.pins(job.repo, job.issue_number)
        hints = Hints(
            hint=job.args.get("hint") or None,
            feedback=job.args.get("feedback") or None,
            include=tuple(include),
            exclude=tuple(exclude),
            anyway=bool(job.args.get("anyway", False)),
        )

        status = run.status
        run.stage("localising")
        clock = StageClock()
        events = RunEvents(clock, bind_stage, status.follow)
        uploads = None
        if self.artifacts is not None and self.options.runs_dir is not None:
            uploads = RunUploads(self.artifacts, self.options.runs_dir)
            events.subscribe(uploads)
        outcome = self.pipeline.run(
            PipelineJob(work_tree, issue.title, issue.body, config, hints, job.repo, job.installation_id),
            events=events,
            should_cancel=lambda: beat.check() != "ok",
        )
        if uploads is not None:  # before the result names the run: a reader then finds its files
            uploads.finish(outcome.run_id, outcome.run_dir)
        status.view = status.view.with_outcome(outcome)
        # Kept whatever the ending, a cancel too: the month's spend sums the results' costs, and a worker
        # that dies after this resumes from it (a cancelled outcome then ends cancelled again).
        # The strategy the run used: the outcome's own word, else the one the configuration chose.
        strategy = outcome.strategy or config.strategy
        result = {**outcome.to_json(), "strategy": strategy, "timings": clock.as_json()}
        self.ledger.update_job(job.id, result=result, base_sha=base)
        return outcome

    def _publish(
        self, job: Job, gh: GitHub, repo: Repository, issue: Issue, branch: str, outcome: PipelineOutcome
    ) -> PullRequest:
        """Find this branch's open PR (made by an earlier job, or by this one before a crash) or open it."""
        body = render(
            "pr_body",
            marker=marker(job.id),
            job_id=job.id,
            issue_number=issue.number,
            summary=outcome.summary,
            evidence=outcome.evidence,
            attempts=outcome.attempts,
            model=outcome.model,
            tokens=outcome.tokens,
            cost_usd=outcome.cost_usd,
            localisation=outcome.localisation,
            run_url=self.options.run_url(job.id),
            other_changes=outside_source(diff_paths(outcome.diff)),
            account=account_of(Path(outcome.run_dir)) if outcome.run_dir else None,
        )
        existing = self._open_pull(gh, repo, branch)
        if existing is not None:
            pr = existing
            gh.edit_pull(repo.full_name, pr.number, body=body)
        else:
            pr = gh.create_pull(
                repo.full_name,
                title=text("commit", issue=issue, summary="", title_only=True),
                head=branch,
                base=repo.default_branch,
                body=body,
                draft=True,
            )
        self.ledger.update_job(job.id, pr_number=pr.number)
        return pr

    def _open_pull(self, gh: GitHub, repo: Repository, branch: str) -> PullRequest | None:
        """The bot's open PR from ``branch`` (never someone else's PR or a fork's), if there is one."""
        owner = repo.full_name.split("/")[0]
        pulls = gh.list_pulls(repo.full_name, head=f"{owner}:{branch}", state="open")
        return next((p for p in pulls if is_bot_pull(p, repo.full_name, self.options.login)), None)


def frozen_issue(job: Job, current: Issue) -> tuple[Issue, str]:
    """The issue as it read when the trigger was accepted, and the status comment's line saying so."""
    if job.issue_title is None:  # a job opened before the text was kept: the current text
        return current, ""
    frozen = replace(current, title=job.issue_title, body=job.issue_body or "")
    note = text(
        "issue_note",
        when=job.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        edited_by=job.issue_edited_by,
        edited=(current.title, current.body) != (frozen.title, frozen.body),
    )
    return frozen, note


def gh_token(gh: GitHub) -> str:
    """The cached installation token, for redaction only ('' when none can be had)."""
    try:
        return gh.installation_token().token
    except RepomindError:  # redaction must never fail the error path it protects
        return ""
