"""Fixtures for the browser checks of the built book.

The built site (``_build/html``, or the folder named by ``BOOK_HTML``) is served
on 127.0.0.1 and opened in Debian's headless Chromium through Playwright. Where
Chromium is missing the checks are skipped with a warning, except under CI
(``CI=true``), where a missing browser fails the run.

Each page is loaded once (``visit``); the tests then assert on what was
recorded: console errors, failed or external requests, MathJax output, images
and the header buttons.
"""
from __future__ import annotations

import functools
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from site_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    INSPECT_JS,
    LANDING,
    SCREENSHOT_PAGES,
    SCREENSHOT_TIMEOUT_MS,
    SCREENSHOTS,
    SITE,
    TIMEOUT_MS,
    VIEWPORT,
    Page,
    in_ci,
)


# --------------------------------------------------------------------------- #
# Server and browser
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        where = "" if "BOOK_HTML" not in os.environ else f" (BOOK_HTML={os.environ['BOOK_HTML']})"
        pytest.fail(f"no built book at {SITE}{where}: run `make html` first", pytrace=False)
    return SITE


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="session")
def base_url(site):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _no_browser(reason: str):
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so the browser checks must run (.ci/run installs chromium)", pytrace=False)
    message = f"browser checks of the built book skipped: {reason} (install it with `apt-get install chromium`)"
    warnings.warn(message, pytest.PytestWarning, stacklevel=1)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _no_browser(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is in requirements.txt
        _no_browser(f"Playwright is not importable ({exc})")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def new_page(browser, base_url):
    """Open a page that records problems; requests to other hosts are aborted."""
    host = urlsplit(base_url).netloc
    opened = []

    def make():
        context = browser.new_context(viewport=VIEWPORT, service_workers="block")
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.problems = rec = Problems()

        def route(r):
            if urlsplit(r.request.url).netloc == host:
                r.continue_()
            else:
                rec.external.append(r.request.url)
                r.abort()

        def failed(r):
            rec.pending.discard(r)
            # Chromium cancels a late favicon fetch (net::ERR_ABORTED) when a full-page
            # screenshot or the next navigation supersedes it; a missing favicon still
            # fails through the HTTP-status check below.
            if r.failure == "net::ERR_ABORTED" and "favicon" in urlsplit(r.url).path:
                return
            if urlsplit(r.url).netloc == host:
                rec.failed.append(f"{r.url} ({r.failure})")

        context.route("**/*", route)
        page.on("console", lambda m: rec.console.append(f"{m.text} [{m.location.get('url', '')}]") if m.type == "error" else None)
        page.on("pageerror", lambda e: rec.console.append(f"uncaught: {e}"))
        page.on("request", lambda r: rec.pending.add(r))
        page.on("requestfinished", lambda r: rec.pending.discard(r))
        page.on("requestfailed", failed)
        page.on("response", lambda r: rec.failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
        opened.append(context)
        return page

    yield make
    for context in opened:
        context.close()


def settle(tab, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait until fonts are loaded and no request is in flight (faster than 'networkidle')."""
    tab.evaluate("() => document.fonts.ready.then(() => true)")
    deadline = time.monotonic() + timeout_ms / 1000
    while tab.problems.pending and time.monotonic() < deadline:
        tab.wait_for_timeout(20)
    if tab.problems.pending:
        tab.problems.failed += [f"{r.url} (still loading after {timeout_ms} ms)" for r in tab.problems.pending]


@dataclass
class Problems:
    console: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    external: list = field(default_factory=list)
    pending: set = field(default_factory=set)


@dataclass
class Visit:
    page: Page
    url: str
    final_url: str
    problems: Problems
    info: dict
    screenshot: Path | None = None


@pytest.fixture(scope="session")
def visit(new_page, base_url):
    """``visit(page)`` loads a page once and returns what it recorded.

    The pages in SCREENSHOT_PAGES are photographed (full page) on that visit.
    """
    cache: dict[str, Visit] = {}
    tab = None

    def _visit(p: Page) -> Visit:
        nonlocal tab
        if p.url not in cache:
            if tab is None:
                tab = new_page()
            tab.problems.__init__()  # a fresh record for each page
            url = urljoin(base_url, p.url)
            if tab.goto(url, wait_until="load") is None:
                tab.problems.failed.append(f"{url} (no response)")
            if p is LANDING:  # index.html is a meta-refresh redirect to the root page
                tab.wait_for_url(lambda u: u != url, timeout=TIMEOUT_MS)
                tab.wait_for_load_state("load")
            info = tab.evaluate(INSPECT_JS)  # waits for MathJax to finish typesetting
            settle(tab)  # late requests (MathJax fonts) are recorded too
            shot = None
            if p in SCREENSHOT_PAGES:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                # JPEG: a chapter is ~20,000 px tall, and PNG takes twice as long to encode.
                shot = SCREENSHOTS / f"{p.name.replace('/', '_')}.jpg"
                tab.screenshot(path=str(shot), full_page=True, type="jpeg", quality=85, timeout=SCREENSHOT_TIMEOUT_MS)
            cache[p.url] = Visit(p, url, tab.url, Problems(**vars(tab.problems)), info, shot)
        return cache[p.url]

    return _visit
