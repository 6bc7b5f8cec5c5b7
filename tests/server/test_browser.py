"""The dashboard in a real browser: Debian's ``chromium`` driven by Playwright (``executable_path``; no
browser download) against ``repomind serve``'s app under uvicorn on loopback, signed in through the
stand-in GitHub's OAuth flow. Screenshots (1280 px and a phone) are saved under ``tests/artifacts/browser``
(``REPOMIND_TEST_ARTIFACTS`` moves them) as the run's artefacts.

A ``browser`` test: without chromium or playwright it skips, unless ``REPOMIND_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr

from repomind.settings import Settings
from repomind.store import JobState, latest_events
from repomind.store.joblog import add_event
from repomind.store.ledger import JobRequest, Ledger
from repomind.testing import StandInGitHub, make_git_repo
from repomind.testing.github.server import free_port
from repomind.testing.github.state import shaped
from tests.bot.helpers import Server, serve, settings_for
from tests.requirements import missing

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("REPOMIND_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts") / "browser"
CLIENT_ID = "Iv1.5b0c1d2e3f4a5b6c"
CLIENT_SECRET = "fedcba0987654321fedcba0987654321fedcba09"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DIFF = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
)
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"
WAIT_MS = 5_000  # the live log polls the ledger every 0.2 s: a line shows within a second


@dataclass
class Dashboard:
    server: Server
    github: StandInGitHub
    finished: int
    failed: int

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ledger(self) -> Ledger:
        ledger: Ledger = self.server.ledger
        return ledger


def new_context(chromium: Any, base_url: str, **options: Any) -> Any:
    """A fresh browser profile (cookies, storage) at a desktop width unless ``options`` say otherwise;
    waits fail after 10 s instead of Playwright's 30."""
    context = chromium.new_context(base_url=base_url, **(options or DESKTOP))
    context.set_default_timeout(10_000)
    return context


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, under Playwright (one browser for the module; a context per test)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        missing("browser", f"the playwright package is not installed ({exc})")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        missing("browser", "Debian's chromium is not installed (run scripts/provision-browser.sh)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


def _run(ledger: Ledger, repo: str, issue: int, by: str) -> int:
    job, _ = ledger.open_job(JobRequest(repo, 77, issue, "label", "fix", requested_by=by))
    assert ledger.claim(job.id, "browser-test", 300) is not None
    return job.id


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The app on loopback (its public URL is where the browser reaches it, so GitHub's OAuth redirect
    comes back to it), the stand-in GitHub with acme/calc (alice maintains it, mallory reads it) and
    acme/secret (alice only), and two ended runs in the ledger: acme/calc#1 succeeded, acme/secret#3
    failed."""
    tmp = tmp_path_factory.mktemp("browser")
    with StandInGitHub(tmp / "github") as github:
        github.add_repo("acme/calc", make_git_repo(tmp / "calc", {"calc.py": "x = 1\n"}))
        github.add_repo("acme/secret", make_git_repo(tmp / "secret", {"s.py": "y = 2\n"}))
        github.state.set_permission("acme/calc", "alice", "maintain")
        github.state.set_permission("acme/calc", "mallory", "read")
        github.state.set_permission("acme/secret", "alice", "admin")
        github.state.register_oauth_client(CLIENT_ID, CLIENT_SECRET)
        port = free_port()
        settings = settings_for(
            github,
            tmp / "data",
            public_url=f"http://127.0.0.1:{port}",
            github_web_url=github.url,
            oauth_client_id=CLIENT_ID,
            oauth_client_secret=SecretStr(CLIENT_SECRET),
        )
        server = serve(settings, pipeline=None, worker=False, port=port)
        ledger = server.ledger
        try:
            finished = _run(ledger, "acme/calc", 1, "alice")
            for kind, message in [
                ("stage", "Localising the change"),
                ("set", "the change is in: calc.py"),
                ("attempt", "attempt 1: passed (tests: 3 passed, 0 failed)"),
                ("stage", f"draft PR ready {HOSTILE}"),
            ]:
                add_event(ledger, finished, kind, message)
            ledger.update_job(
                finished,
                branch="repomind/issue-1",
                pr_number=2,
                bot_diff=DIFF,
                result={"tokens": 1234, "cost_usd": 0.0042},
            )
            ledger.finish(finished, JobState.SUCCEEDED)
            failed = _run(ledger, "acme/secret", 3, "alice")
            add_event(ledger, failed, "stage", "the secret run's only line")
            ledger.finish(failed, JobState.FAILED, error="the secret run's error text")
            yield Dashboard(server, github, finished, failed)
        finally:
            server.stop()


def signed_in(chromium: Any, dashboard: Dashboard, login: str, **options: Any) -> Any:
    """A browser context signed in as ``login`` through the app's OAuth on the stand-in GitHub."""
    dashboard.github.state.signed_in_as = login
    context = new_context(chromium, dashboard.url, **options)
    page = context.new_page()
    page.goto("/login?next=/healthz")
    assert page.url == f"{dashboard.url}/healthz", page.url
    page.close()
    dashboard.github.state.signed_in_as = None
    return context


def test_sign_in_through_github_lands_on_the_page_asked_for(chromium: Any, dashboard: Dashboard) -> None:
    dashboard.github.state.signed_in_as = "mallory"
    context = new_context(chromium, dashboard.url)
    page = context.new_page()
    visited: list[str] = []
    page.on("request", lambda r: visited.append(r.url) if r.is_navigation_request() else None)
    page.goto(f"/runs/{dashboard.finished}")
    # the run page, by way of /login, GitHub's authorize page and the callback
    assert page.url == f"{dashboard.url}/runs/{dashboard.finished}"
    assert [url.split("?")[0] for url in visited] == [
        f"{dashboard.url}/runs/{dashboard.finished}",
        f"{dashboard.url}/login",
        f"{dashboard.github.url}/login/oauth/authorize",
        f"{dashboard.url}/login/callback",
        f"{dashboard.url}/runs/{dashboard.finished}",
    ]
    assert "acme/calc" in page.inner_text("body")
    shoot(page, "signed-in-run")
    # the session cookie is out of the page's scripts' reach
    [cookie] = [c for c in context.cookies() if c["name"] == "repomind_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "repomind_session" not in page.evaluate("document.cookie")
    # mallory cannot read acme/secret: its run looks like one that does not exist
    hidden = page.goto(f"/runs/{dashboard.failed}")
    assert hidden is not None and hidden.status == 404
    assert "the secret run" not in page.content()
    # signing out ends the session: the next visit goes through GitHub again (nobody is signed in there)
    dashboard.github.state.signed_in_as = None
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{dashboard.github.url}/login/oauth/authorize?*")
    assert not [c for c in context.cookies() if c["name"] == "repomind_session"]
    page.goto(f"/runs/{dashboard.finished}")
    assert page.url.startswith(f"{dashboard.github.url}/login/oauth/authorize?")
    context.close()


def test_an_anonymous_visitor_is_sent_to_sign_in_and_sees_no_run(chromium: Any, dashboard: Dashboard) -> None:
    dashboard.github.state.signed_in_as = None  # nobody is signed in to GitHub either
    context = new_context(chromium, dashboard.url)
    page = context.new_page()
    answers: list[Any] = []
    page.on("response", lambda response: answers.append(response))
    page.goto(f"/runs/{dashboard.finished}")
    ours = [r for r in answers if r.url.startswith(dashboard.url)]
    assert [r.status for r in ours] == [303, 303]
    assert ours[0].headers["location"] == f"/login?next=%2Fruns%2F{dashboard.finished}"
    assert page.url.startswith(f"{dashboard.github.url}/login/oauth/authorize?")
    assert page.inner_text("h1") == "Sign in to GitHub"
    for path in (f"/api/runs/{dashboard.finished}", "/api/runs", "/metrics"):
        refused = context.request.get(path)
        assert refused.status == 401, path
        assert "acme" not in refused.text()
    assert not [c for c in context.cookies() if c["name"] == "repomind_session"]
    assert "acme" not in page.content()
    shoot(page, "anonymous-refused")
    context.close()


def test_the_setup_page_registers_the_app_through_the_manifest_flow(chromium: Any, tmp_path: Path) -> None:
    token = "console-setup-token-for-the-browser"
    code = "0123456789abcdef0123456789abcdef01234567"
    with StandInGitHub(tmp_path / "github") as github:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(
            data_dir=tmp_path / "data",
            github_api_url=github.url,
            github_web_url="https://github.example",  # never reached: the browser's route answers
            public_url=base,
        )
        server = serve(settings, pipeline=None, worker=False, port=port, setup_token=token)
        context = new_context(chromium, base)
        try:
            page = context.new_page()
            locked = page.goto("/setup")
            assert locked is not None and locked.status == 403
            assert page.locator("form").count() == 0
            page.goto(f"/setup?token={token}")
            assert page.url == f"{base}/setup"  # the token is dropped from the address bar
            shoot(page, "setup")
            phone = new_context(chromium, base, **PHONE)
            phone.add_cookies(context.cookies())
            on_phone = phone.new_page()
            on_phone.goto("/setup")
            shoot(on_phone, "setup-phone")
            phone.close()

            posted: list[str] = []

            def github_creates_the_app(route: Any) -> None:
                # GitHub's "Create GitHub App" page: confirmed at once, back to the redirect URL
                posted.append(route.request.post_data or "")
                manifest = json.loads(dict(parse_qsl(posted[-1]))["manifest"])
                state = route.request.url.split("state=")[1]
                back = f"{manifest['redirect_url']}?code={code}&state={state}"
                route.fulfill(status=302, headers={"Location": back})

            page.route("https://github.example/**", github_creates_the_app)
            conversion = shaped(
                "apps.create-from-manifest.201", id=31337, slug="repomind-acme", pem=github.private_key
            )
            github.offer_manifest_code(code, conversion)
            page.get_by_role("button", name="Register the GitHub App").click()
            page.wait_for_url(f"{base}/setup/callback?*")
            manifest = json.loads(dict(parse_qsl(posted[0]))["manifest"])
            assert manifest["hook_attributes"]["url"] == f"{base}/webhooks/github"
            assert manifest["callback_urls"] == [f"{base}/login/callback"]
            install = page.locator('a[href$="/installations/new"]')
            assert install.count() == 1 and "repomind-acme" in page.inner_text("body")
            assert settings.credentials_file.exists()
            assert github.private_key not in page.content()
            shoot(page, "setup-done")
        finally:
            context.close()
            server.stop()


def test_the_setup_page_is_styled_by_the_shared_stylesheet(chromium: Any, tmp_path: Path) -> None:
    """One stylesheet for the dashboard and the setup page (OPS_SPEC.md section 1), served in setup mode
    too: the page links it and the browser gets its rules."""
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", public_url=f"http://127.0.0.1:{port}")
    server = serve(settings, pipeline=None, worker=False, port=port, setup_token="a-setup-token-0123456789")
    context = new_context(chromium, server.url)
    try:
        page = context.new_page()
        page.goto("/setup?token=a-setup-token-0123456789")
        sheets = page.evaluate(
            "[...document.styleSheets].map(s => [s.href, (() => { try { return s.cssRules.length }"
            " catch (e) { return -1 } })()])"
        )
        assert [rules for href, rules in sheets if href.endswith("/static/repomind.css")], sheets
        assert all(rules > 0 for href, rules in sheets if href.endswith("/static/repomind.css")), sheets
    finally:
        context.close()
        server.stop()


def test_a_finished_runs_page(chromium: Any, dashboard: Dashboard) -> None:
    context = signed_in(chromium, dashboard, "alice")
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"/runs/{dashboard.finished}")
    text = page.inner_text("body")
    assert page.inner_text("#run-state") == "succeeded" and "acme/calc" in text
    assert page.locator("#live-log li[data-event-id]").count() == 4
    assert "+    return a + b" in text and "-    return a - b" in text
    assert "the change is in: calc.py" in text and "attempt 1: passed" in text
    # a hostile line is shown as text, never run as markup
    assert HOSTILE in text and page.title() != "pwned"
    assert page.locator("img").count() == 0
    # an ended run neither refreshes nor streams
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    page.wait_for_timeout(300)
    assert not [url for url in requested if "/events" in url]
    shoot(page, "run-finished")
    context.close()
    phone = signed_in(chromium, dashboard, "alice", **PHONE)
    page = phone.new_page()
    page.goto(f"/runs/{dashboard.finished}")
    shoot(page, "run-finished-phone")
    phone.close()


# -- against the dashboard's contract (OPS_SPEC.md section 1: #runs, tr[data-run-id], #run-state,
#    #live-log li[data-event-id], EventSource on /api/runs/{id}/events) --------------------------------


def _row_ids(page: Any) -> set[int]:
    ids = page.locator("#runs tr[data-run-id]").evaluate_all("rows => rows.map(r => r.dataset.runId)")
    return {int(i) for i in ids}


def test_the_runs_list_shows_only_readable_runs_and_filters(chromium: Any, dashboard: Dashboard) -> None:
    alice = signed_in(chromium, dashboard, "alice")
    page = alice.new_page()
    page.goto("/runs")
    assert {dashboard.finished, dashboard.failed} <= _row_ids(page)
    row = page.locator(f'#runs tr[data-run-id="{dashboard.failed}"]')
    assert "acme/secret" in row.inner_text() and "failed" in row.inner_text()
    shoot(page, "runs")
    page.goto("/runs?state=failed")
    assert dashboard.failed in _row_ids(page) and dashboard.finished not in _row_ids(page)
    page.goto("/runs?repo=acme/calc")
    assert dashboard.finished in _row_ids(page) and dashboard.failed not in _row_ids(page)
    page.goto("/runs")
    page.locator(f'#runs tr[data-run-id="{dashboard.finished}"] a[href="/runs/{dashboard.finished}"]').click()
    page.wait_for_url(f"**/runs/{dashboard.finished}")
    alice.close()

    mallory = signed_in(chromium, dashboard, "mallory", **PHONE)
    page = mallory.new_page()
    page.goto("/runs")
    ids = _row_ids(page)
    assert dashboard.finished in ids and dashboard.failed not in ids
    assert "acme/secret" not in page.content()
    # readable on a phone: laid out at the phone's width (a viewport meta), and the page itself never
    # scrolls sideways (a wide table scrolls in its own box)
    assert page.evaluate("window.innerWidth") == PHONE["viewport"]["width"]  # type: ignore[index]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shoot(page, "runs-phone")
    mallory.close()


def test_the_live_log_grows_while_a_run_progresses(chromium: Any, dashboard: Dashboard) -> None:
    ledger = dashboard.ledger
    job = _run(ledger, "acme/calc", 4, "alice")
    add_event(ledger, job, "stage", "Localising the change")
    context = signed_in(chromium, dashboard, "alice")
    page = context.new_page()
    page.goto(f"/runs/{job}")
    lines = page.locator("#live-log li")
    assert page.inner_text("#run-state") == "running"
    assert lines.count() == 1
    page.evaluate("window.stillTheSamePage = true")  # gone if the page reloads

    add_event(ledger, job, "attempt", "attempt 1: failed (tests: 2 passed, 1 failed)")
    newest = latest_events(ledger, job, 1)[0]
    line = page.locator(f'#live-log li[data-event-id="{newest.id}"]')
    line.wait_for(timeout=WAIT_MS)
    assert "attempt 1: failed" in line.inner_text() and lines.count() == 2
    shoot(page, "run-live")

    add_event(ledger, job, "stage", "draft PR ready")
    ledger.finish(job, JobState.SUCCEEDED)
    page.locator("#live-log li", has_text="draft PR ready").wait_for(timeout=WAIT_MS)
    page.wait_for_function(
        "document.getElementById('run-state').textContent.trim() === 'succeeded'", timeout=WAIT_MS
    )
    assert page.evaluate("window.stillTheSamePage") is True
    ids = lines.evaluate_all("items => items.map(i => Number(i.dataset.eventId))")
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 3
    context.close()
