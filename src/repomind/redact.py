"""The one redaction of secrets: known values and secret-shaped strings, out of logs, artifacts and GitHub.

Everything Repomind writes where someone else can read it passes through :data:`SECRETS` (a
:class:`Redactor`): every log event (values, nested values and the formatted traceback), every file
under ``runs/``, every body posted to GitHub (comments, PR titles and bodies) and the run page.

:data:`SECRETS` is the process's one registry of known secret values. It starts empty (importing this
module changes nothing); the composition roots add the configured secrets (:func:`repomind.log.configure`,
``Runtime.from_settings``), :class:`repomind.bot.github.auth.InstallationTokens` adds each installation token
as it is minted, and :class:`repomind.pipeline.llm.LiteLLMModel` adds the API key it is given. Values
shorter than :data:`MIN_SECRET_LEN` characters are not registered: replacing every occurrence of a short
string would redact ordinary words and numbers from every log line. A secret that short cannot be
protected by redaction; :func:`repomind.settings.Settings.secret_values` leaves it out for that reason.

Besides known values it replaces the shapes of secrets (:data:`PATTERNS`), so a token or key nobody
registered (another installation's token quoted in an issue, a key in a test's output) is caught too.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

REDACTED = "[REDACTED]"
#: Shorter values are never registered as secrets (they would redact ordinary text everywhere).
MIN_SECRET_LEN = 8
#: GitHub refuses a comment, PR body or review reply longer than 65,536 characters; Repomind posts at
#: most this many (a little less, for GitHub counting some characters as more than one).
GITHUB_BODY_LIMIT = 65_000
#: How deep :meth:`Redactor.value` walks nested containers before it gives up on a value.
MAX_DEPTH = 32

#: Shapes of secrets. A pattern with a group keeps that group (the part that says what was there).
PATTERNS: tuple[re.Pattern[str], ...] = (
    # GitHub tokens: installation (ghs_), personal (ghp_, github_pat_), OAuth (gho_), user (ghu_), refresh.
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"),
    # OpenAI / Anthropic style keys: sk-..., sk-proj-..., sk-ant-api03-...
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    # PEM private keys, across lines (the END line's label may differ in spacing; be generous).
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
    # git over HTTPS with the installation token in the URL.
    re.compile(r"(?i)(x-access-token:)[^@\s]+"),
    # Credentials in any URL: scheme://user:password@host.
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(?=@)"),
    # An HTTP Authorization header (git's http.extraHeader carries base64 of the token).
    re.compile(r"(?i)(\bauthorization:\s*(?:bearer|token|basic)\s+)[A-Za-z0-9+/=._~-]+"),
)

_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]{16,}\r?")


def _pem_tails(text: str) -> str:
    """The tail of a PEM key whose BEGIN line was cut off (a log's last 500 characters): base64 lines
    ending in an END line. Walked back from each END line, so that it costs one pass (a regex for it
    backtracks over every base64-looking line of a long text)."""
    out: list[str] = []
    last = 0
    for match in _PEM_END.finditer(text):
        end_line = match.start()
        if end_line < last or (end_line > 0 and text[end_line - 1] != "\n"):
            continue
        begin = end_line
        while begin > last and text[begin - 1] == "\n":
            line_start = max(text.rfind("\n", last, begin - 1) + 1, last)
            if not _BASE64_LINE.fullmatch(text, line_start, begin - 1):
                break
            begin = line_start
        if begin < end_line:
            out += [text[last:begin], REDACTED]
            last = match.end()
    return "".join(out) + text[last:] if out else text


#: The environment variables through which litellm reads provider keys (the ones a deployment sets).
LLM_KEY_VARIABLES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AZURE_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "MISTRAL_API_KEY",
    "COHERE_API_KEY",
    "GROQ_API_KEY",
    "TOGETHERAI_API_KEY",
    "TOGETHER_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "FIREWORKS_AI_API_KEY",
    "HUGGINGFACE_API_KEY",
    "HF_TOKEN",
    "XAI_API_KEY",
    "PERPLEXITYAI_API_KEY",
    "REPLICATE_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "VERTEXAI_CREDENTIALS",
)


def llm_env_keys(environ: Mapping[str, str]) -> list[str]:
    """The provider keys litellm would read from ``environ`` (the composition passes ``os.environ``)."""
    return [environ[name] for name in LLM_KEY_VARIABLES if environ.get(name)]


def _keep_prefix(match: re.Match[str]) -> str:
    return (match.group(1) if match.re.groups else "") + REDACTED


class Redactor:
    """Replaces known secret values and secret-shaped strings, in text or in nested data.

    ``parent``'s secrets count as this one's too (a run's artifacts: the registry plus the run's own).
    Thread-safe: tokens are added by one worker thread while another writes a log line.
    """

    def __init__(self, secrets: Iterable[str] = (), *, parent: Redactor | None = None) -> None:
        self._parent = parent
        self._lock = threading.Lock()
        self._secrets: dict[str, float | None] = {}  # value -> expiry (epoch seconds) or None
        self._version = 0
        self._compiled: tuple[tuple[int, ...], re.Pattern[str] | None] = ((), None)
        self.add(*secrets)

    def add(self, *secrets: str, expires_at: datetime | None = None) -> None:
        """Know these values from now on (until ``expires_at``, after which they protect nothing).

        Values shorter than :data:`MIN_SECRET_LEN` (after stripping whitespace) are ignored."""
        expiry = expires_at.timestamp() if expires_at is not None else None
        with self._lock:
            now = time.time()
            for gone in [s for s, until in self._secrets.items() if until is not None and until < now]:
                del self._secrets[gone]
            for secret in secrets:
                if secret and len(secret.strip()) >= MIN_SECRET_LEN:
                    self._secrets[secret] = expiry
                    # a PEM or a pasted secret may reach text with other line endings
                    if "\n" in secret:
                        self._secrets[secret.replace("\n", "\r\n")] = expiry
                        self._secrets[secret.strip()] = expiry
            self._version += 1

    def known(self) -> list[str]:
        """The values this redactor replaces (its own and its parent's)."""
        with self._lock:
            own = list(self._secrets)
        return own + (self._parent.known() if self._parent is not None else [])

    def _versions(self) -> tuple[int, ...]:
        return (self._version, *(self._parent._versions() if self._parent is not None else ()))

    def _pattern(self) -> re.Pattern[str] | None:
        versions = self._versions()
        cached_versions, cached = self._compiled
        if cached_versions == versions:
            return cached
        values = sorted(set(self.known()), key=len, reverse=True)  # longest first: no partial leftovers
        pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None
        self._compiled = (versions, pattern)
        return pattern

    def text(self, text: str) -> str:
        known = self._pattern()
        if known is not None:
            text = known.sub(REDACTED, text)
        for pattern in PATTERNS:
            text = pattern.sub(_keep_prefix, text)
        return _pem_tails(text) if "PRIVATE KEY-----" in text else text

    __call__ = text

    def value(self, value: Any, _depth: int = 0) -> Any:
        """``value`` with every string in it redacted: dicts (keys too), lists, tuples and sets are walked;
        an exception becomes its redacted ``Type: message`` text; bytes and any other object its
        redacted text, so that no renderer or encoder later prints an unredacted ``repr``."""
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if _depth >= MAX_DEPTH:
            return REDACTED
        if isinstance(value, Mapping):
            return {
                (self.text(k) if isinstance(k, str) else k): self.value(v, _depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            items = [self.value(v, _depth + 1) for v in value]
            return tuple(items) if isinstance(value, tuple) else items
        if isinstance(value, BaseException):
            return self.text(f"{type(value).__name__}: {value}")
        if isinstance(value, bytes | bytearray):
            return self.text(bytes(value).decode("utf-8", errors="replace"))
        return self.text(str(value))


#: The process's registry of known secrets (see the module's documentation for who adds to it).
SECRETS = Redactor()


def redact(text: str) -> str:
    """``text`` with every known secret and secret-shaped string replaced."""
    return SECRETS.text(text)


def redact_value(value: Any) -> Any:
    return SECRETS.value(value)


def cap(text: str, limit: int = GITHUB_BODY_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters, keeping its head and tail with a visible note between."""
    if len(text) <= limit:
        return text
    note = ""
    keep = limit
    for _ in range(3):  # the note's length depends on the number it states
        cut = len(text) - keep
        note = f"\n\n… ✂ {cut:,} characters cut here (GitHub takes at most 65,536 in one body) ✂ …\n\n"
        keep = max(limit - len(note), 0)
    head = keep - keep // 3
    tail = keep - head
    return text[:head] + note + (text[len(text) - tail :] if tail else "")


def for_github(text: str) -> str:
    """What may be posted to GitHub of ``text``: redacted, then capped (so no cut leaves half a secret)."""
    return cap(redact(text))
