"""Process settings from the environment (``REPOMIND_`` prefix), read once at the edge (the CLI's root
group, the app factory); how they combine with a repository's config and a command's flags is
:mod:`repomind.compose.config`."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "repomind"


class Settings(BaseSettings):
    """Everything Repomind reads from its environment. Unset optional values are ``None``."""

    model_config = SettingsConfigDict(env_prefix="REPOMIND_", extra="ignore", env_ignore_empty=True)

    app_id: str | None = None
    private_key: SecretStr | None = None
    private_key_path: Path | None = None
    webhook_secret: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    #: A personal token for `repomind solve --issue URL` and `calibrate --from-github` on private
    #: repositories, and against rate limits (the app never uses it).
    github_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("REPOMIND_GITHUB_TOKEN", "GITHUB_TOKEN")
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    redis_url: str | None = None
    #: Where run artifacts (reports, trajectories, diffs) go: ``s3://bucket/prefix`` for an S3-compatible
    #: bucket (credentials from the usual AWS environment); default the ledger's database.
    artifacts_url: str | None = None
    #: The S3 endpoint for ``artifacts_url`` (MinIO, Ceph …); default AWS's own (or ``AWS_ENDPOINT_URL``).
    artifacts_endpoint_url: str | None = None
    model: str | None = None
    # A sentence-transformers model folder for dense localisation; "none" turns the dense signal off.
    embedding_model: str | None = None
    llm_api_base: str | None = None
    #: The bot's re-ranker of the localisation head: cross-encoder:PATH, llm or llm:MODEL (default none).
    rerank: str | None = None
    #: How a run solves the issue where neither a flag nor the repository names one (default ``agent``).
    strategy: str | None = None
    #: A Chroma server (http://HOST:PORT) for the localisation vectors; default an embedded store.
    chroma_url: str | None = None
    require_docker: bool = False
    log_format: str | None = Field(default=None, description="json or console; default json unless a tty")
    log_level: str = "info"
    # Sandbox limits applied to every command the bot runs.
    sandbox_memory_mb: int = Field(default=2048, ge=16)
    sandbox_cpus: float = Field(default=1.0, gt=0)
    sandbox_pids: int = Field(default=256, ge=8)
    sandbox_timeout_s: float = Field(default=600.0, gt=0)
    #: Images a repository's ``.github/repomind.yml`` may name as ``image:`` (comma-separated references);
    #: none by default. A cached ``repomind-env/...`` environment is never allowed.
    sandbox_images: str = ""
    debian_mirror: str = "http://deb.debian.org/debian"
    # The GitHub App.
    public_url: str | None = Field(default=None, description="where people reach this server (run pages)")
    app_slug: str = Field(
        default="repomind", description="the app's slug: its comments come from <slug>[bot]"
    )
    label: str = Field(
        default="repomind",
        min_length=1,
        description="the label that starts a run where a repository's .github/repomind.yml names none",
    )
    github_web_url: str = "https://github.com"
    workers: int = Field(default=2, ge=1, description="worker threads of the embedded or standalone worker")
    #: How often a standalone worker looks for running jobs whose worker died (expired leases), besides
    #: the queue's own recovery each minute; None: only that one.
    recover_every_s: float | None = Field(default=None, gt=0)
    job_lease_s: float = Field(
        default=120.0, gt=0, description="a job whose worker is silent this long is retried"
    )
    heartbeat_s: float = Field(
        default=10.0, gt=0, description="seconds between a worker's heartbeats in the worker registry"
    )
    dispatch_tries: int = Field(
        default=5, ge=1, description="tries of a webhook delivery whose handler fails, before reporting it"
    )
    dispatch_backoff_s: float = Field(
        default=10.0, gt=0, description="wait before the second try of a failed delivery; doubles each try"
    )
    training_scope: Literal["installation", "shared"] = Field(
        default="installation",
        description="installation: each installation's data trains and is served only its own adapter",
    )
    adapter_model: str | None = Field(
        default=None,
        description="litellm model string of a served LoRA adapter, with {scope} (installation-<id> or "
        "shared) and {version}: runs of an installation with a promoted adapter use it",
    )
    retention_days: float | None = Field(
        default=None, gt=0, description="finished runs and deliveries older than this are deleted"
    )
    max_budget_usd: float | None = Field(
        default=None, gt=0, description="ceiling on a repository's budget_usd (and the budget when unset)"
    )
    max_budget_tokens: int | None = Field(
        default=None, gt=0, description="ceiling on a repository's budget_tokens (and the budget when unset)"
    )
    max_concurrent_jobs: int | None = Field(
        default=None,
        ge=1,
        description="pipeline jobs one installation may run at once; more wait queued (default unlimited)",
    )
    monthly_budget_usd: float | None = Field(
        default=None,
        ge=0,
        description="model spend per installation and calendar month (UTC); at the cap jobs do not start",
    )
    pipeline: str = Field(
        default="repomind.bot.solving.solve:make_pipeline",
        description="module:factory of the pipeline the worker runs; factory(settings) -> Pipeline",
    )
    # Sign-in to the web pages: the app's own OAuth client (from the manifest conversion, or these).
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    #: ``Authorization: Bearer <token>`` for scripts and ``/metrics`` (sees every run).
    operator_token: SecretStr | None = None
    #: Signs the web cookies; generated into ``<data dir>/session-secret`` (0600) when unset.
    session_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _stored_credentials(self) -> Settings:
        """Without credentials in the environment, use the ones setup mode stored in the data dir."""
        if self.app_id is not None or self.private_key is not None or self.private_key_path is not None:
            return self
        path = self.credentials_file
        if not path.is_file():
            return self
        from repomind.errors import ConfigError

        try:
            data = json.loads(path.read_text())
            self.app_id = str(data["id"])
            self.private_key = SecretStr(str(data["pem"]))
            if self.webhook_secret is None and data.get("webhook_secret"):
                self.webhook_secret = SecretStr(str(data["webhook_secret"]))
            if data.get("slug"):
                self.app_slug = str(data["slug"])
            if self.oauth_client_id is None and data.get("client_id"):
                self.oauth_client_id = str(data["client_id"])
            if self.oauth_client_secret is None and data.get("client_secret"):
                self.oauth_client_secret = SecretStr(str(data["client_secret"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"stored app credentials {path} are unreadable: {exc!r}") from None
        return self

    def prepare_data_dir(self) -> Path:
        """Create the data dir readable by the owner only (0700); it holds credentials and secrets."""
        if not self.data_dir.is_dir():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.data_dir, 0o700)  # mkdir's mode is masked by the umask
        return self.data_dir

    @property
    def session_secret_file(self) -> Path:
        """Where the cookie-signing key is generated when ``REPOMIND_SESSION_SECRET`` is unset (0600)."""
        return self.data_dir / "session-secret"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'repomind.db'}"

    @property
    def credentials_file(self) -> Path:
        """Where setup mode stores the registered app's id, key and secret (mode 0600)."""
        return self.data_dir / "app-credentials.json"

    def private_key_text(self) -> str | None:
        if self.private_key is not None:
            return self.private_key.get_secret_value()
        if self.private_key_path is not None:
            return self.private_key_path.read_text()
        return None

    @property
    def allowed_images(self) -> tuple[str, ...]:
        """``REPOMIND_SANDBOX_IMAGES`` as a tuple of image references."""
        return tuple(ref.strip() for ref in self.sandbox_images.split(",") if ref.strip())

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def index_dir_for(self, installation_id: int | None, repo: str) -> Path:
        """A repository's localisation index, under its installation (deleted with it)."""
        owner = f"installation-{installation_id}" if installation_id is not None else "local"
        return self.data_dir / "index" / owner / (repo.replace("/", "__") or "_")

    @property
    def calibration_file(self) -> Path:
        """The bot's localisation calibration (from ``repomind calibrate``), used when it exists."""
        return self.data_dir / "calibration.json"

    def calibration_file_for(self, repo: str) -> Path:
        """A repository's own calibration (``calibrate --from-github``), used before the shared one."""
        return self.data_dir / "calibrations" / f"{repo.replace('/', '__')}.json"

    def secret_values(self) -> list[str]:
        """Secret strings to redact from logs and output: every ``SecretStr`` setting, the private key
        file's text, and the provider keys litellm reads from the environment. Values shorter than
        :data:`repomind.redact.MIN_SECRET_LEN` are left out (redacting them would mangle ordinary text)."""
        from repomind.redact import MIN_SECRET_LEN, llm_env_keys

        values = [
            getattr(self, name).get_secret_value()
            for name in type(self).model_fields
            if isinstance(getattr(self, name), SecretStr)
        ]
        if self.private_key is None and self.private_key_path is not None:
            with contextlib.suppress(OSError):  # mode_for reports an unreadable key file
                values.append(self.private_key_path.read_text())
        values += llm_env_keys(os.environ)
        return [v for v in dict.fromkeys(values) if len(v.strip()) >= MIN_SECRET_LEN]
