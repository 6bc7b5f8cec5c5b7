"""One router per event family; :data:`ROUTES` joins them for the web process and the worker."""

from __future__ import annotations

from repomind.bot.jobs.worker import ContextFactory
from repomind.store import Delivery
from repomind.webhooks.handlers import (
    check_run,
    check_suite,
    installation,
    issue_comment,
    issues,
    pull_request,
    pull_request_review,
    pull_request_review_comment,
)
from repomind.webhooks.router import Routes

ROUTES = Routes(
    [
        issues.router,
        issue_comment.router,
        pull_request.router,
        pull_request_review.router,
        pull_request_review_comment.router,
        installation.router,
        installation.repositories_router,
        check_run.router,
        check_suite.router,
    ]
)


def dispatch(delivery: Delivery, context: ContextFactory) -> None:
    """Run the handlers of a stored delivery (in the worker), as the installation it came from."""
    installation_id = (delivery.payload.get("installation") or {}).get("id")
    if installation_id is None:  # a repository webhook, not a GitHub App delivery: nothing to act as
        return
    ROUTES.dispatch(delivery.event, delivery.payload, context(int(installation_id)))
