"""The stand-in GitHub's git remote: smart HTTP (dulwich) that serves clone, fetch and push only to
``x-access-token`` with a valid installation token, as GitHub does, in a threaded WSGI server."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from repomind.testing.github.state import GitHubState


class _ThreadingWSGIServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self._handle, args=(request, client_address), daemon=True)
        thread.start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


def git_app(state: GitHubState, repos: dict[str, Any]) -> Callable[..., Iterable[bytes]]:
    """A WSGI app over dulwich ``repos`` (URL path → Repo) that checks the token first."""
    from dulwich.server import DictBackend
    from dulwich.web import make_wsgi_chain

    inner = make_wsgi_chain(DictBackend(repos))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        header = environ.get("HTTP_AUTHORIZATION", "")
        ok = False
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            ok = user == "x-access-token" and state.token_valid(password)
        if not ok:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="GitHub"')])
            return [b"Authentication failed"]
        result: Iterable[bytes] = inner(environ, start_response)
        return result

    return app


def serve_git(state: GitHubState, repos: dict[str, Any], port: int) -> WSGIServer:
    """Start serving ``repos`` on loopback ``port`` in a daemon thread; ``shutdown()`` stops it."""
    server = make_server(
        "127.0.0.1",
        port,
        git_app(state, repos),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
