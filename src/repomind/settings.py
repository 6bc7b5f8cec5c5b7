"""Process settings from the environment (``REPOMIND_`` prefix), read once by the composition roots."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    redis_url: str | None = None
    model: str | None = None
    # A sentence-transformers model folder for dense localisation; "none" turns the dense signal off.
    embedding_model: str | None = None
    llm_api_base: str | None = None
    require_docker: bool = False
    log_format: str | None = Field(default=None, description="json or console; default json unless a tty")
    log_level: str = "info"
    # Sandbox limits applied to every command the bot runs.
    sandbox_memory_mb: int = Field(default=2048, ge=16)
    sandbox_cpus: float = Field(default=1.0, gt=0)
    sandbox_pids: int = Field(default=256, ge=8)
    sandbox_timeout_s: float = Field(default=600.0, gt=0)
    debian_mirror: str = "http://deb.debian.org/debian"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def secret_values(self) -> list[str]:
        """Secret strings to redact from logs and output."""
        values = [s.get_secret_value() for s in (self.private_key, self.webhook_secret) if s is not None]
        return [v for v in values if len(v) >= 8]
