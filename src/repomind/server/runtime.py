"""Composition of the bot's parts from settings: store, queue, GitHub client, pipeline, worker.

Used by the app factory (``repomind serve``) and by ``repomind worker``: the one place that turns
settings into objects, so nothing below it reads the environment.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from repomind.bot.commands.options import BotOptions
from repomind.bot.github.protocol import GitHubFactory
from repomind.bot.jobs.job_runner import JobRunner
from repomind.bot.jobs.worker import Worker
from repomind.bot.solving.pipeline_port import Pipeline
from repomind.compose.config import ServerDefaults
from repomind.errors import ConfigError
from repomind.redact import SECRETS
from repomind.settings import Settings
from repomind.store import Ledger, make_engine
from repomind.store.artifacts import Artifacts, open_artifacts
from repomind.store.limits import Limits
from repomind.store.purge import Purger
from repomind.store.queue import EVENTS, PIPELINE, TRAINING, Queue, Stop, open_queue
from repomind.store.workers import BEAT_S, Heartbeats
from repomind.webhooks.handlers import dispatch


def load_pipeline(settings: Settings) -> Pipeline:
    """The pipeline named by ``settings.pipeline`` (``module:factory``; ``factory(settings)``)."""
    module_name, _, attr = settings.pipeline.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr or "make_pipeline")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"REPOMIND_PIPELINE {settings.pipeline!r} cannot be loaded: {exc}") from exc
    pipeline: Pipeline = factory(settings)
    return pipeline


def github_factory(settings: Settings) -> GitHubFactory:
    from repomind.bot.github.client import GithubkitFactory

    key = settings.private_key_text()
    if settings.app_id is None or key is None:
        raise ConfigError("the worker needs the app's credentials: REPOMIND_APP_ID and REPOMIND_PRIVATE_KEY")
    return GithubkitFactory(
        settings.app_id, key, base_url=settings.github_api_url, client_options={"http_cache": False}
    )


def make_purger(settings: Settings, ledger: Ledger, artifacts: Artifacts | None = None) -> Purger:
    """What deletes an installation's data, and runs past ``REPOMIND_RETENTION_DAYS`` (with their files
    in ``artifacts``, the run-artifacts store)."""
    from repomind.training.config import TrainingSettings

    def remove_environments(repo: str) -> int:
        from repomind.sandbox.environment import remove_environments as remove

        return remove(repo)

    return Purger(
        ledger=ledger,
        data_dir=settings.data_dir,
        runs_dir=settings.runs_dir,
        training_root=TrainingSettings().root(settings.data_dir),
        retention_days=settings.retention_days,
        remove_environments=remove_environments,
        artifacts=artifacts,
    )


@dataclass
class Runtime:
    settings: Settings
    ledger: Ledger
    queue: Queue
    options: BotOptions
    #: Run artifacts (reports, trajectories, diffs) in the shared store: the ledger's database, or a bucket.
    artifacts: Artifacts
    #: Seconds between the worker registry's heartbeats (:mod:`repomind.store.workers`).
    heartbeat_s: float = BEAT_S
    consumers: list[Stop] = field(default_factory=list)
    #: This process's entries in the worker registry (one per consumption started), stopped last.
    heartbeats: list[Heartbeats] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        settings.prepare_data_dir()
        SECRETS.add(*settings.secret_values())  # redacted from logs, artifacts, GitHub and run pages
        ledger = Ledger(make_engine(settings.database))
        queue = open_queue(data_dir=settings.data_dir, redis_url=settings.redis_url)
        options = BotOptions(
            app_slug=settings.app_slug,
            work_dir=settings.data_dir / "work",
            public_url=settings.public_url,
            lease_s=settings.job_lease_s,
            dispatch_tries=settings.dispatch_tries,
            dispatch_backoff_s=settings.dispatch_backoff_s,
            defaults=ServerDefaults.from_settings(settings),
            limits=Limits.of(settings),
            runs_dir=settings.runs_dir,
        )
        artifacts = open_artifacts(settings, ledger)
        return cls(settings, ledger, queue, options, artifacts, heartbeat_s=settings.heartbeat_s)

    def worker(self, *, github: GitHubFactory | None = None, pipeline: Pipeline | None = None) -> Worker:
        github = github or github_factory(self.settings)
        runner = JobRunner(
            self.ledger,
            github,
            pipeline or load_pipeline(self.settings),
            self.queue,
            self.options,
            artifacts=self.artifacts,
        )
        return Worker(
            ledger=self.ledger,
            github=github,
            queue=self.queue,
            runner=runner,
            dispatch=dispatch,
            options=self.options,
            purger=make_purger(self.settings, self.ledger, self.artifacts),
        )

    def start_worker(self, worker: Worker, *, queue: str = PIPELINE) -> Stop:
        """Recover what dead workers left, then consume in threads: for ``pipeline`` the events lane
        (deliveries) and the job lane, each with its own threads."""
        worker.recover()
        if queue == PIPELINE:
            worker.sweep()  # the retention period holds from the start, not only from the first hour
            threads = {EVENTS: 2, PIPELINE: self.settings.workers}
        else:
            threads = {TRAINING: 1}
        stop = self.queue.consume(worker.handlers(), threads)
        self.consumers.append(stop)
        self.announce(tuple(threads))
        return stop

    def announce(self, lanes: tuple[str, ...]) -> Heartbeats:
        """Register this process in the worker registry as consuming ``lanes``, beating until :meth:`stop`."""
        heartbeats = Heartbeats(self.ledger, lanes, interval_s=self.heartbeat_s).start()
        self.heartbeats.append(heartbeats)
        return heartbeats

    def stop(self) -> None:
        for stop in self.consumers:
            stop()
        self.consumers.clear()
        for heartbeats in self.heartbeats:  # after the consumers: a worker is alive until its jobs end
            heartbeats.stop()
        self.heartbeats.clear()
        self.ledger.dispose()

    def describe(self) -> dict[str, Any]:
        return {"database": self.ledger.engine.url.render_as_string(hide_password=True)}
