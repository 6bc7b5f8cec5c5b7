"""GitHub's rate limits, honoured: how long a refused request waits, and who is told about a long wait.

GitHub answers 403 or 429 when a limit is hit (github/docs, "Rate limits for the REST API"):

* ``retry-after: N`` (sent with secondary limits): wait N seconds;
* ``x-ratelimit-remaining: 0``: the primary limit is spent; wait until ``x-ratelimit-reset`` (epoch s);
* a message saying "secondary rate limit" without either: wait at least a minute, then back off
  exponentially.

:func:`wait_for` turns a refused response into the seconds to wait (None: not a rate limit); the client
(:class:`repomind.bot.github.client.GithubkitClient`) sleeps through :class:`RateLimitPolicy` (its clock and
sleep are injectable) and gives up past ``max_retries`` or a wait longer than ``max_wait_s``.

A wait of more than ``report_after_s`` is reported to the listener of the current context
(:func:`reporting_waits`): the job runner shows it on the status comment ("waiting 60 s for GitHub's
rate limit"). Requests made by the listener itself never wait: a rate-limited one fails at once, so a
report cannot stall or recurse.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

#: Told the seconds the current request will wait for GitHub's rate limit.
WaitListener = Callable[[float], None]

_listener: ContextVar[WaitListener | None] = ContextVar("repomind_rate_limit_listener", default=None)
_reporting: ContextVar[bool] = ContextVar("repomind_rate_limit_reporting", default=False)


@dataclass(frozen=True)
class RateLimitPolicy:
    """How the client waits out GitHub's rate limits."""

    #: Tries after the first refused one; then the refusal is raised.
    max_retries: int = 5
    #: A secondary limit without ``retry-after``: the first wait, doubled each time up to ``backoff_cap_s``.
    secondary_base_s: float = 60.0
    backoff_cap_s: float = 900.0
    #: A single wait longer than this is not waited (the request fails with GitHub's message).
    max_wait_s: float = 3900.0
    #: Waits longer than this are reported to the listener of :func:`reporting_waits`.
    report_after_s: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.time, compare=False)


def is_secondary(message: str) -> bool:
    return "secondary rate limit" in message.lower()


def wait_for(
    status: int, headers: Mapping[str, str], message: str, retry: int, policy: RateLimitPolicy
) -> float | None:
    """Seconds to wait before trying a request GitHub refused (the ``retry``-th time, from 0), or None
    when the refusal is not a rate limit."""
    if status not in (403, 429):
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = lowered.get("retry-after", "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    reset = lowered.get("x-ratelimit-reset", "").strip()
    if lowered.get("x-ratelimit-remaining", "").strip() == "0":
        if reset.isdigit():
            return max(0.0, float(reset) - policy.clock()) + 1.0  # a second of slack for clock skew
        return policy.secondary_base_s
    if is_secondary(message) or status == 429:
        return min(policy.backoff_cap_s, policy.secondary_base_s * 2.0**retry)
    return None


@contextmanager
def reporting_waits(listener: WaitListener) -> Iterator[None]:
    """Report long rate-limit waits of the requests made in this context (this thread) to ``listener``."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def in_report() -> bool:
    """True while a listener is being told about a wait: its own requests must not wait."""
    return _reporting.get()


def report_wait(seconds: float, policy: RateLimitPolicy) -> None:
    """Tell the current listener (if any) about a wait longer than ``policy.report_after_s``."""
    listener = _listener.get()
    if listener is None or seconds <= policy.report_after_s or _reporting.get():
        return
    token = _reporting.set(True)
    try:
        listener(seconds)
    finally:
        _reporting.reset(token)
