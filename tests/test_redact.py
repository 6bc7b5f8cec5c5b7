"""The one redaction (repomind.redact): values and shapes, nested data, log events with their tracebacks,
stdlib records, artifacts before encoding, the GitHub cap, and who registers which secret."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from repomind import log
from repomind.pipeline.llm import LiteLLMModel
from repomind.pipeline.solve import verify
from repomind.pipeline.solve.artifacts import RunArtifacts, read_trajectory
from repomind.pipeline.solve.events import TestsRan
from repomind.pipeline.solve.recorder import RunRecorder
from repomind.redact import (
    GITHUB_BODY_LIMIT,
    REDACTED,
    SECRETS,
    Redactor,
    cap,
    for_github,
    llm_env_keys,
)
from repomind.settings import Settings

#: A private key as the app's credentials hold it: several lines.
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "-----END RSA PRIVATE KEY-----\n"
)


@pytest.mark.parametrize(
    "secret",
    [
        "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
        "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "sk-abcdefghijklmnopqrstuvwxyz0123",
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
        "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9kLm2n",
        PEM.strip(),
        PEM.replace("RSA ", ""),  # PKCS#8
        PEM.replace("\n", "\r\n"),
    ],
)
def test_secret_shapes_are_redacted_without_being_known(secret: str) -> None:
    out = Redactor()(f"before {secret} after")
    assert out.startswith("before ") and REDACTED in out and "after" in out
    assert secret.strip() not in out and "MIIEow" not in out and "16C7e42F" not in out


def test_credentials_in_urls_and_headers_keep_their_shape() -> None:
    redact = Redactor()
    url = "https://x-access-token:v1.0123456789abcdef0123456789abcdef01234567@github.com/o/r.git"
    assert redact(url) == f"https://x-access-token:{REDACTED}@github.com/o/r.git"
    assert redact("git clone https://bob:hunter2hunter2@example.com/r") == (
        f"git clone https://bob:{REDACTED}@example.com/r"
    )
    header = "http.extraHeader=Authorization: Basic eC1hY2Nlc3MtdG9rZW46djEuMDEyMzQ1Njc4OQ=="
    assert redact(header) == f"http.extraHeader=Authorization: Basic {REDACTED}"
    # ordinary text is left alone
    plain = "ask-me-anything: https://github.com/o/r/issues/1 risk-management at 8:30"
    assert redact(plain) == plain


def test_known_values_are_redacted_and_short_ones_are_not_registered() -> None:
    redact = Redactor(["canary-value-1234", "short", "      x     "])
    assert redact("a canary-value-1234 b") == f"a {REDACTED} b"
    # 'short' is under MIN_SECRET_LEN: registering it would redact every 'short' in every log line
    assert redact("a short story") == "a short story"
    assert redact.known() == ["canary-value-1234"]


def test_a_child_knows_its_parents_secrets_as_they_are_added() -> None:
    parent = Redactor()
    child = Redactor(["child-only-secret"], parent=parent)
    assert child("parent-secret-later") == "parent-secret-later"
    parent.add("parent-secret-later")
    assert child("parent-secret-later child-only-secret") == f"{REDACTED} {REDACTED}"
    assert parent("child-only-secret") == "child-only-secret"


def test_expired_tokens_are_dropped_when_the_next_one_is_added() -> None:
    registry = Redactor()
    registry.add("expired-token-value", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    registry.add("live-token-value-1", expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert registry.known() == ["live-token-value-1"]


def test_nested_values_are_walked_keys_exceptions_and_objects_included() -> None:
    redact = Redactor(["nested-canary-42"])
    value = {
        "a": ["x", ("nested-canary-42", 3, None, True)],
        "nested-canary-42": {"deep": {"deeper": [{"s": "id nested-canary-42"}]}},
        "error": RuntimeError("push failed: nested-canary-42"),
        "path": Path("/tmp/nested-canary-42"),
        "raw": b"bytes nested-canary-42",
        "set": {"nested-canary-42"},
    }
    out = redact.value(value)
    assert "nested-canary-42" not in json.dumps(out)
    assert out["a"] == ["x", (REDACTED, 3, None, True)]
    assert out["error"] == f"RuntimeError: push failed: {REDACTED}"
    assert out[REDACTED] == {"deep": {"deeper": [{"s": f"id {REDACTED}"}]}}


def _raise_with(secret: str) -> None:
    token = secret  # a local in the failing frame, as a real bug would have it
    raise ValueError(f"GitHub refused {token}")


def test_log_events_are_redacted_after_the_traceback_is_rendered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.configure(fmt="json", secrets=["log-canary-secret-1"])
    logger = log.get_logger("t")
    try:
        _raise_with("log-canary-secret-1 and ghs_16C7e42F292c6912E7710c838347Ae178B4a")
    except ValueError:
        logger.exception("push failed", attempt={"url": ["x-access-token:log-canary-secret-1@h"]})
    logger.info("nested", data={"k": ["log-canary-secret-1"]}, pair=("a", "log-canary-secret-1"))
    err = capsys.readouterr().err
    assert "log-canary-secret-1" not in err and "ghs_16C7" not in err
    first, second = (json.loads(line) for line in err.strip().splitlines()[-2:])
    assert "Traceback" in first["exception"] and f"GitHub refused {REDACTED}" in first["exception"]
    assert first["attempt"] == {"url": [f"x-access-token:{REDACTED}@h"]}
    assert second["data"] == {"k": [REDACTED]} and second["pair"] == ["a", REDACTED]


def test_console_logs_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure(fmt="console", secrets=["console-canary-22"])
    try:
        _raise_with("console-canary-22")
    except ValueError:
        log.get_logger("t").exception("failed", error=ValueError("console-canary-22"))
    err = capsys.readouterr().err
    assert "Traceback" in err and "console-canary-22" not in err and REDACTED in err


def test_stdlib_records_are_redacted_whatever_prints_them() -> None:
    log.configure(fmt="json", secrets=["stdlib-canary-333"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("repomind-test-stdlib")
    logger.addHandler(handler)
    try:
        logger.warning("token %s", "stdlib-canary-333")
        try:
            _raise_with("stdlib-canary-333")
        except ValueError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "Traceback" in text and "stdlib-canary-333" not in text and f"token {REDACTED}" in text


def test_artifacts_are_redacted_before_encoding_pem_across_lines_included(tmp_path: Path) -> None:
    SECRETS.add("artifact-canary-4444")
    art = RunArtifacts(tmp_path / "run", "r1", redact=[PEM])
    art.write_json("report.json", {"error": f"key:\n{PEM}", "nested": [{"t": "artifact-canary-4444"}]})
    after = verify.TestRun(
        ("pytest",), 1, "failed", {}, 0.0, f"{PEM}\nghs_16C7e42F292c6912E7710c838347Ae178B4a"
    )
    RunRecorder(art)(TestsRan(1, "after", after))  # a trajectory line from an event
    art.write_text("attempt-1/tests-after.log", f"log\n{PEM.replace('RSA ', 'EC ')}\nend")
    art.write_json(
        "other.json", {"when": datetime(2024, 1, 1, tzinfo=UTC), "p": Path("/x/artifact-canary-4444")}
    )
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "PRIVATE KEY" not in text and "MIIEow" not in text, path
            assert "artifact-canary-4444" not in text and "ghs_" not in text, path
    assert json.loads((tmp_path / "run" / "report.json").read_text())["error"] == f"key:\n{REDACTED}"
    [event] = read_trajectory(tmp_path / "run" / "trajectory.jsonl")
    assert event["log"].startswith(REDACTED)


def test_github_bodies_are_capped_keeping_head_and_tail_visibly() -> None:
    body = "HEAD " + "x" * 200_000 + " TAIL"
    out = cap(body)
    assert len(out) <= GITHUB_BODY_LIMIT < 65_536
    assert out.startswith("HEAD ") and out.endswith(" TAIL")
    note = out[out.index("\n\n… ✂") : out.index("✂ …\n\n") + len("✂ …\n\n")]
    assert f"✂ {len(body) - (len(out) - len(note)):,} characters cut here" in note
    assert cap("short") == "short"
    # redaction happens before the cut, so a secret split by it cannot survive in halves
    SECRETS.add("github-canary-55555")
    assert "github-canary" not in for_github("github-canary-55555 " * 10_000)


def test_settings_name_every_secret_and_the_llm_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "openai-canary-key-1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "tiny")
    key_file = tmp_path / "key.pem"
    key_file.write_text(PEM)
    settings = Settings(
        webhook_secret=SecretStr("webhook-canary-1"),
        github_token=SecretStr("gh-token-canary-1"),
        private_key_path=key_file,
        app_id="1",
        data_dir=tmp_path,
    )
    values = settings.secret_values()
    assert {"webhook-canary-1", "gh-token-canary-1", PEM, "openai-canary-key-1"} <= set(values)
    assert "tiny" not in values  # too short to redact
    assert llm_env_keys({"GROQ_API_KEY": "g" * 20, "PATH": "/bin"}) == ["g" * 20]


def test_the_llm_layer_registers_the_key_it_sends() -> None:
    LiteLLMModel("openai/x", api_key="llm-canary-key-777")
    assert "llm-canary-key-777" not in SECRETS("calling with llm-canary-key-777")


def test_the_tail_of_a_key_whose_begin_line_was_cut_off_is_redacted_in_one_pass() -> None:
    tail = PEM[PEM.index("VTLw") :]  # what `stderr[-500:]` may keep of a key
    assert Redactor()(f"log tail\n{tail}after") == f"log tail\n{REDACTED}\nafter"
    # many base64-looking lines and an END line they do not reach: linear, not a backtracking regex
    text = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIzNDU2Nzg5\n" * 20_000 + "x\n" + PEM.splitlines()[-1]
    assert Redactor()(text) == text
