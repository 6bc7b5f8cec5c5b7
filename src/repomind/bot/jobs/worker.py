"""The worker's side of the queue: dispatch deliveries to the webhook handlers, run jobs, recover.

The handlers themselves live in :mod:`repomind.webhooks` (imports flow webhooks → bot); the composition
root hands the worker a ``dispatch`` callable, so this module never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from structlog.contextvars import bound_contextvars

from repomind.bot.commands.options import BotOptions
from repomind.bot.commands.triggers import BotContext
from repomind.bot.github.protocol import GitHubFactory
from repomind.bot.jobs.job_runner import JobRunner
from repomind.bot.render import render
from repomind.log import get_logger
from repomind.store import Delivery, Ledger
from repomind.store.purge import Purger
from repomind.store.queue import Handlers, Kind, Queue

ContextFactory = Callable[[int], BotContext]
Dispatch = Callable[[Delivery, ContextFactory], None]
#: Deliveries acknowledged this long ago and still not handled are enqueued again by recovery.
REDISPATCH_AFTER_S = 60.0
#: How long one dispatch holds its delivery: recovery leaves it alone meanwhile.
DISPATCH_HOLD_S = 300.0
#: Longest error text kept on a delivery (and quoted on the issue).
MAX_ERROR = 500


class Worker:
    """What a process that consumes the ``events`` and ``pipeline`` lanes does with their messages."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        github: GitHubFactory,
        queue: Queue,
        runner: JobRunner,
        dispatch: Dispatch,
        options: BotOptions,
        purger: Purger | None = None,
    ) -> None:
        self.ledger = ledger
        self.github = github
        self.queue = queue
        self.runner = runner
        self._dispatch = dispatch
        self.options = options
        self.purger = purger
        self.log: Any = get_logger("repomind.worker")

    def context(self, installation_id: int, delivery_id: str | None = None) -> BotContext:
        return BotContext(
            github=self.github.for_installation(installation_id),
            queue=self.queue,
            ledger=self.ledger,
            options=self.options,
            log=self.log.bind(installation=installation_id, delivery=delivery_id),
            delivery_id=delivery_id,
        )

    def dispatch(self, delivery_id: str) -> None:
        """Run the delivery's handlers once it is due. A handler that raises (GitHub answered 5xx, the
        store hiccuped) leaves the delivery undispatched: it is tried again with a doubling backoff and,
        after the last try, given up and reported on its issue, so no trigger is lost silently."""
        with bound_contextvars(delivery_id=delivery_id, stage="dispatch"):  # every log line of it
            delivery = self.ledger.begin_dispatch(delivery_id, hold_s=DISPATCH_HOLD_S)
            if delivery is None:
                return
            try:
                self._dispatch(delivery, lambda inst: self.context(inst, delivery_id))
            except Exception as exc:  # the worker's edge: try again later, or report it on the issue
                self.log.exception("delivery handler failed", delivery=delivery_id, event_name=delivery.event)
                self._failed(delivery, f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
                return
            self.ledger.mark_dispatched(delivery_id)

    def _failed(self, delivery: Delivery, error: str) -> None:
        tries = (delivery.tries or 0) + 1
        if tries < self.options.dispatch_tries:
            delay = self.options.dispatch_backoff_s * 2 ** (tries - 1)
            self.ledger.dispatch_failed(delivery.id, error, retry_in_s=delay)
            self.queue.enqueue(Kind.DISPATCH, delivery.id, delay_s=delay)
            self.log.info("delivery will be tried again", delivery=delivery.id, tries=tries, delay_s=delay)
            return
        self.ledger.mark_dispatched(delivery.id, f"gave up after {tries} tries: {error}")
        self._report_lost(delivery, tries, error)

    def _report_lost(self, delivery: Delivery, tries: int, error: str) -> None:
        """Tell the issue (or PR) the delivery came from that its trigger was not acted on."""
        payload = delivery.payload
        repo = (payload.get("repository") or {}).get("full_name")
        thread = (payload.get("issue") or payload.get("pull_request") or {}).get("number")
        installation = (payload.get("installation") or {}).get("id")
        if not (isinstance(repo, str) and isinstance(thread, int) and isinstance(installation, int)):
            return
        what = {"issues": "label", "issue_comment": "command"}.get(delivery.event, "event")
        body = render("dispatch_failed", what=what, tries=tries, error=error)
        try:
            self.github.for_installation(installation).create_comment(repo, thread, body)
        except Exception:  # GitHub may be what is failing; the ledger keeps the error either way
            self.log.exception("could not report a lost delivery on GitHub", delivery=delivery.id)

    def handlers(self) -> Handlers:
        """The messages this worker answers: deliveries, pipeline jobs, purges and the periodic ones."""
        return Handlers(
            {
                Kind.DISPATCH: self.dispatch,
                Kind.RUN_JOB: self.run_job,
                Kind.RECOVER: self.recover,
                Kind.SWEEP: self.sweep,
                Kind.PURGE: self.purge,
                Kind.TRAINING_READY: self.training_ready,
            }
        )

    def run_job(self, job_id: int) -> None:
        self.runner.run(job_id)

    def recover(self) -> None:
        """Enqueue again what no live worker holds: jobs with expired leases, unhandled deliveries."""
        jobs = self.ledger.recoverable()
        deliveries = self.ledger.undispatched(REDISPATCH_AFTER_S)
        for job_id in jobs:
            self.queue.enqueue(Kind.RUN_JOB, job_id)
        for delivery_id in deliveries:
            self.queue.enqueue(Kind.DISPATCH, delivery_id)
        if jobs or deliveries:
            self.log.info("recovered", jobs=jobs, deliveries=len(deliveries))

    def recover_expired(self) -> None:
        """Enqueue again the running jobs whose worker died (expired leases): cheap enough to run every
        few seconds, where :meth:`recover` runs each minute."""
        jobs = self.ledger.expired()
        for job_id in jobs:
            self.queue.enqueue(Kind.RUN_JOB, job_id)
        if jobs:
            self.log.info("recovered expired leases", jobs=jobs)

    def purge(self, installation_id: int, repos: list[str]) -> None:
        """Delete what an uninstalled installation (or its removed repositories) left behind."""
        if self.purger is None:
            self.log.warning("no purger composed: nothing deleted", installation=installation_id)
            return
        if repos:
            counts = self.purger.repositories(installation_id, repos)
        else:
            counts = self.purger.installation(installation_id)
        self.log.info("purged", installation=installation_id, repositories=repos, deleted=counts)

    def sweep(self) -> None:
        """Delete finished runs older than the retention period (at start and every hour)."""
        if self.purger is None:
            return
        counts = self.purger.expired()
        if counts:
            self.log.info("expired runs deleted", deleted=counts)

    def training_ready(self, feedback_id: int) -> None:
        # The training queue's consumer (repomind train, issue 6) reads unconsumed feedback from the store;
        # this message only wakes it.
        self.log.info("feedback ready for training", feedback=feedback_id)
