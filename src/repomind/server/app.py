"""The FastAPI app factory: the composition root of the web process."""

from __future__ import annotations

import contextlib
import enum
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from repomind import __version__
from repomind.bot.github.protocol import GitHubFactory
from repomind.bot.solving.pipeline_port import Pipeline
from repomind.errors import ConfigError
from repomind.server.cookies import Cookies, cookies_for
from repomind.server.metrics import Metrics
from repomind.server.oauth import OAuthApp
from repomind.server.pages import static_router
from repomind.server.signin import Access
from repomind.settings import Settings

if TYPE_CHECKING:
    from repomind.sandbox.inventory import ImageInventory


class Companion(Protocol):
    """Something that lives as long as the server: started when it starts, stopped when it stops
    (``repomind serve`` runs its worker process this way)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Mode(enum.StrEnum):
    SETUP = "setup"  # no app credentials yet: only /setup (with the console's token) and /healthz
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
    if not settings.webhook_secret.get_secret_value().strip():
        raise ConfigError(
            "refusing to start: REPOMIND_WEBHOOK_SECRET is only whitespace; set the webhook secret "
            "that the GitHub App's settings show"
        )
    if settings.private_key_path is not None and not settings.private_key_path.is_file():
        raise ConfigError(f"REPOMIND_PRIVATE_KEY_PATH {settings.private_key_path} is not a readable file")
    if settings.operator_token is not None and len(settings.operator_token.get_secret_value().strip()) < 16:
        raise ConfigError("REPOMIND_OPERATOR_TOKEN must be at least 16 characters (not whitespace)")
    return Mode.READY


def _access(settings: Settings, cookies: Cookies) -> Access:
    oauth = None
    if settings.oauth_client_id and settings.oauth_client_secret is not None:
        oauth = OAuthApp(
            settings.oauth_client_id,
            settings.oauth_client_secret.get_secret_value(),
            web_url=settings.github_web_url,
            api_url=settings.github_api_url,
        )
    operator = settings.operator_token.get_secret_value().strip() if settings.operator_token else None
    return Access(cookies, operator_token=operator, oauth=oauth, public_url=settings.public_url)


API_DESCRIPTION = (
    "Repomind's runs, for the dashboard and for scripts or other trackers. Every route needs a sign-in "
    "(the browser's session) or `Authorization: Bearer <REPOMIND_OPERATOR_TOKEN>`; a person sees only the "
    "runs of repositories they can read, and starts or cancels runs only where they have write access."
)


def _app_github(settings: Settings) -> GitHubFactory:
    from repomind.server.runtime import github_factory

    return github_factory(settings)


def _docs(app: FastAPI) -> None:
    """``/openapi.json`` and ``/docs`` (the API reference, rendered here from the same document: no
    script and nothing from a CDN), behind the sign-in guard like every other page."""
    from fastapi.openapi.utils import get_openapi

    from repomind.server.apidocs import reference
    from repomind.server.pages import page
    from repomind.server.viewing import viewer_of

    schema: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        if not schema:
            schema.update(
                get_openapi(
                    title=app.title, version=app.version, description=app.description, routes=app.routes
                )
            )
        return schema

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(document())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        operations, models = reference(document())
        return page(
            "api_docs",
            viewer=viewer_of(request),
            description=app.description,
            version=app.version,
            operations=operations,
            models=models,
            schema_names={m.name for m in models},
        )


def create_app(
    settings: Settings,
    *,
    worker: bool = False,
    github: GitHubFactory | None = None,
    pipeline: Pipeline | None = None,
    companions: Sequence[Companion] = (),
    setup_token: str | None = None,
    images: ImageInventory | None = None,
) -> FastAPI:
    """Build the web app for ``settings``; raises :class:`ConfigError` when it must not start.

    ``worker=True`` runs a queue consumer in threads of this process (tests; ``repomind serve`` runs
    its worker as a child process, a companion); ``github`` and ``pipeline`` replace the ones the
    settings name (tests).
    ``companions`` are started with the server and stopped, last first, when it shuts down.
    In setup mode ``setup_token`` (default: a random one) is what ``/setup?token=`` must carry; it is
    ``app.state.setup_token``, for ``repomind serve`` to print. ``images`` replaces the Docker daemon
    the Health page lists the sandbox images of (tests).
    """
    mode = mode_for(settings)
    settings.prepare_data_dir()
    cookies = cookies_for(settings)
    runtime = None
    if mode is Mode.READY:
        from repomind.server.runtime import Runtime

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

    # The OpenAPI document and /docs are served only once sign-in guards them (``_docs``, ready mode).
    app = FastAPI(
        title="Repomind",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.mode = mode
    app.state.runtime = runtime
    app.state.setup_token = None
    metrics = Metrics()
    metrics.install(app)
    app.include_router(static_router())

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        # Answers without contacting GitHub or Docker: a liveness check for the process.
        return {"status": "ok", "mode": mode.value, "version": __version__}

    if runtime is None:
        from repomind.server.setup import setup_router

        app.state.setup_token = setup_token or secrets.token_urlsafe(32)
        app.include_router(setup_router(settings, token=app.state.setup_token, cookies=cookies))

        @app.post("/webhooks/github")
        def webhooks_in_setup_mode() -> JSONResponse:
            return JSONResponse(
                {"detail": "Repomind is in setup mode: register the GitHub App first"}, status_code=503
            )

    else:
        from repomind.sandbox.inventory import DockerImages
        from repomind.server.dashboard import Starter, Visible, dashboard_router
        from repomind.server.health import health_router
        from repomind.server.learning import learning_router
        from repomind.webhooks.handlers import ROUTES
        from repomind.webhooks.receive import webhook_router

        assert settings.webhook_secret is not None  # mode_for refuses to start without one
        app.include_router(
            webhook_router(
                secret=settings.webhook_secret.get_secret_value(),
                ledger=runtime.ledger,
                queue=runtime.queue,
                routes=ROUTES,
            )
        )
        access = _access(settings, cookies)
        access.install(app)
        factory = github
        starter = Starter(
            runtime.ledger,
            runtime.queue,
            runtime.options,
            github=lambda: factory or _app_github(settings),
        )
        visible = Visible(
            runtime.ledger,
            access,
            starter,
            artifacts=runtime.artifacts,
            github_web=settings.github_web_url.rstrip("/"),
        )
        app.include_router(dashboard_router(visible))
        _docs(app)
        app.include_router(learning_router(runtime.ledger, access))
        inventory = images if images is not None else DockerImages()
        app.include_router(health_router(settings, runtime.ledger, runtime.queue, access, inventory))
        app.include_router(metrics.router())
        metrics.watch_ledger(runtime.ledger, runtime.queue)
    return app
