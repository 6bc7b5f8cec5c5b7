"""Logging: JSON on stderr, secrets redacted."""

from __future__ import annotations

import json

import pytest

from repomind import log
from repomind.settings import Settings


def test_json_logs_redact_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure(fmt="json", secrets=["hunter2-webhook-secret"])
    log.get_logger("t").info(
        "pushing",
        url="https://x-access-token:ghs_abcdefghijklmnopqrstuvwx1234@github.com/o/r",
        note="secret is hunter2-webhook-secret",
        key="sk-abcdefghijklmnopqrstu",
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "pushing" and line["level"] == "info"
    assert "ghs_" not in line["url"] and "x-access-token:[REDACTED]@github.com" in line["url"]
    assert line["note"] == "secret is [REDACTED]" and line["key"] == "[REDACTED]"


def test_redactor_removes_pem_keys() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert log.Redactor()(f"key: {pem}!") == "key: [REDACTED]!"


def test_settings_read_prefixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("REPOMIND_WEBHOOK_SECRET", "a-very-secret-value")
    monkeypatch.setenv("REPOMIND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REPOMIND_SANDBOX_TIMEOUT_S", "30")
    settings = Settings()
    assert settings.webhook_secret is not None
    assert "a-very-secret-value" not in repr(settings)
    assert settings.secret_values() == ["a-very-secret-value"]
    assert settings.runs_dir == tmp_path / "runs"  # type: ignore[operator]
    assert settings.sandbox_timeout_s == 30
