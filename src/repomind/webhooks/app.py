"""The FastAPI app factory: the composition root of the web process."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from repomind import __version__
from repomind.bot.github import GitHubFactory
from repomind.bot.seam import Pipeline
from repomind.errors import ConfigError
from repomind.settings import Settings
from repomind.webhooks.metrics import Metrics


class Companion(Protocol):
    """Something that lives as long as the server: started when it starts, stopped when it stops
    (``repomind serve`` runs its worker process this way)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Mode(enum.StrEnum):
    SETUP = "setup"  # no app credentials yet: only /setup and /healthz
    READY = "ready"  # credentials and a webhook secret


def mode_for(settings: Settings) -> Mode:
    """Setup mode without credentials; refuse to start with credentials but no webhook secret."""
    has_key = settings.private_key is not None or settings.private_key_path is not None
    if settings.app_id is None and not has_key:
        return Mode.SETUP
    if settings.app_id is None or not has_key:
        raise ConfigError(
            "incomplete app credentials: set both REPOMIND_APP_ID and REPOMIND_PRIVATE_KEY "
            "(or REPOMIND_PRIVATE_KEY_PATH), or neither to start in setup mode"
        )
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        raise ConfigError(
            "refusing to start: app credentials are set but REPOMIND_WEBHOOK_SECRET is not; "
            "webhooks cannot be verified without it"
        )
    if settings.private_key_path is not None and not settings.private_key_path.is_file():
        raise ConfigError(f"REPOMIND_PRIVATE_KEY_PATH {settings.private_key_path} is not a readable file")
    return Mode.READY


def create_app(
    settings: Settings,
    *,
    worker: bool = False,
    github: GitHubFactory | None = None,
    pipeline: Pipeline | None = None,
    companions: Sequence[Companion] = (),
) -> FastAPI:
    """Build the web app for ``settings``; raises :class:`ConfigError` when it must not start.

    ``worker=True`` runs a queue consumer in threads of this process (tests; ``repomind serve`` runs
    its worker as a child process, a companion); ``github`` and ``pipeline`` replace the ones the
    settings name (tests).
    ``companions`` are started with the server and stopped, last first, when it shuts down.
    """
    mode = mode_for(settings)
    runtime = None
    if mode is Mode.READY:
        from repomind.webhooks.runtime import Runtime

        runtime = Runtime.from_settings(settings)
        embedded = runtime.worker(github=github, pipeline=pipeline) if worker else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None and embedded is not None:
            runtime.start_worker(embedded)
        started: list[Companion] = []
        try:
            for companion in companions:
                companion.start()
                started.append(companion)
            yield
        finally:
            for companion in reversed(started):
                companion.stop()
            if runtime is not None:
                runtime.stop()

    app = FastAPI(title="Repomind", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.mode = mode
    app.state.runtime = runtime
    metrics = Metrics()
    metrics.install(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        # Answers without contacting GitHub or Docker: a liveness check for the process.
        return {"status": "ok", "mode": mode.value, "version": __version__}

    if runtime is None:
        from repomind.webhooks.setup import setup_router

        app.include_router(setup_router(settings))

        @app.post("/webhooks/github")
        def webhooks_in_setup_mode() -> JSONResponse:
            return JSONResponse(
                {"detail": "Repomind is in setup mode: register the GitHub App first"}, status_code=503
            )

    else:
        from repomind.webhooks.handlers import ROUTES
        from repomind.webhooks.receive import webhook_router
        from repomind.webhooks.runs import runs_router

        assert settings.webhook_secret is not None  # mode_for refuses to start without one
        app.include_router(
            webhook_router(
                secret=settings.webhook_secret.get_secret_value(),
                ledger=runtime.ledger,
                queue=runtime.queue,
                routes=ROUTES,
            )
        )
        app.include_router(runs_router(runtime.ledger))
        metrics.watch_ledger(runtime.ledger, runtime.queue)
    return app
