"""structlog configuration (JSON when not a terminal), applied once by a composition root, with redaction
(:mod:`repomind.redact`) of every event and of the stdlib's records."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from repomind.redact import PATTERNS, REDACTED, SECRETS, Redactor

#: Kept for the modules that imported the patterns from here; :mod:`repomind.redact` owns them.
SECRET_PATTERNS = PATTERNS


def redact_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Every value of the event, nested ones included, through :data:`repomind.redact.SECRETS`.

    Runs after ``format_exc_info``, so the traceback is text by then and is redacted as well."""
    for key, value in list(event.items()):
        event[key] = SECRETS.value(value)
    return event


class _RedactingRecord(logging.LogRecord):
    """A stdlib record (uvicorn, httpx, litellm, huey) whose message and traceback are redacted, whichever
    handler and formatter print it: the traceback is rendered here, and formatters use ``exc_text``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.exc_info and self.exc_info[0] is not None:
            self.exc_text = SECRETS.text(_TRACEBACKS.formatException(self.exc_info))
        if self.stack_info:
            self.stack_info = SECRETS.text(self.stack_info)

    def getMessage(self) -> str:
        return SECRETS.text(super().getMessage())


_TRACEBACKS = logging.Formatter()


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (not when logging was configured), so that a
    replaced stream (a test's capture, a daemon's redirect) never leaves a closed file behind."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(*, fmt: str | None = None, level: str = "info", secrets: Iterable[str] = ()) -> None:
    """Send structured logs to stderr; ``fmt`` is ``json`` or ``console`` (default: console on a tty).

    ``secrets`` join the process's registry (:data:`repomind.redact.SECRETS`); every event is redacted
    after its traceback is rendered to text and before it is rendered."""
    SECRETS.add(*secrets)
    use_json = fmt == "json" or (fmt is None and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,  # the traceback becomes text first ...
            redact_event,  # ... so that it is redacted with everything else
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    logging.setLogRecordFactory(_RedactingRecord)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()


__all__ = ["REDACTED", "SECRET_PATTERNS", "Redactor", "configure", "get_logger", "redact_event"]
