"""The FastAPI app factory: the composition root of the web process."""

from __future__ import annotations

import enum

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from repomind import __version__
from repomind.errors import ConfigError
from repomind.settings import Settings


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


def create_app(settings: Settings) -> FastAPI:
    """Build the web app for ``settings``; raises :class:`ConfigError` when it must not start."""
    mode = mode_for(settings)
    app = FastAPI(title="Repomind", version=__version__, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.mode = mode

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        # Answers without contacting GitHub or Docker: a liveness check for the process.
        return {"status": "ok", "mode": mode.value, "version": __version__}

    if mode is Mode.SETUP:

        @app.post("/webhooks/github")
        def webhooks_in_setup_mode() -> JSONResponse:
            return JSONResponse(
                {"detail": "Repomind is in setup mode: register the GitHub App first"}, status_code=503
            )

    return app
