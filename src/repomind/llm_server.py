"""A small OpenAI-compatible chat server on a thread: the base of the local model server and the stand-in.

Serves ``POST /v1/chat/completions`` (and ``/chat/completions``) and ``GET /v1/models``; a subclass says
how to answer a request. Streaming is not supported (Repomind never asks for it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")


def completion_payload(
    model: str,
    text: str,
    prompt_tokens: int,
    completion_tokens: int,
    n: int,
    *,
    tool_calls: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """An OpenAI chat completion object with its usage.

    With ``tool_calls`` (``{"id", "type": "function", "function": {"name", "arguments"}}`` each) the
    message carries them, its content is ``None`` when there is no text, and it finished for
    ``"tool_calls"``."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    finish = "stop"
    if tool_calls:
        message = {"role": "assistant", "content": text or None, "tool_calls": [dict(c) for c in tool_calls]}
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-repomind-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_payload(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": None}}


class ChatServer:
    """A real HTTP server in a daemon thread; use as a context manager or call ``start`` / ``stop``."""

    model_name = "repomind"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="chat-server", daemon=True)

    @property
    def url(self) -> str:
        """The ``api_base`` to give an OpenAI client or litellm (``http://HOST:PORT/v1``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def answer(
        self, path: str, body: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON payload for one chat request."""
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (for ``repomind llm serve``)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _handler_for(owner: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path not in CHAT_PATHS:
                self._send(404, error_payload(f"no route {path}", "not_found"))
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send(400, error_payload("the body is not JSON", "invalid_request_error"))
                return
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                self._send(400, error_payload("the body needs a list of messages", "invalid_request_error"))
                return
            if body.get("stream"):
                self._send(400, error_payload("streaming is not supported", "invalid_request_error"))
                return
            status, payload = owner.answer(path, body, self.headers.get("Authorization"))
            self._send(status, payload)

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [{"id": owner.model_name, "object": "model"}]})
            elif self.path.rstrip("/") == "/healthz":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, error_payload(f"no route {self.path}", "not_found"))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
