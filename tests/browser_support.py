"""What the browser tests share: Debian's chromium through Playwright, a live werkzeug server
in a thread, a 390×844 zh-CN phone that never leaves the test server, and screenshots.

Run the browser tests with ``./scripts/test`` (it installs Debian's chromium when missing).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"  # gitignored


def need_browser():
    """Fail under CI, skip elsewhere, when the browser or Playwright is missing."""
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing (Debian package 'chromium')"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run: {problem}; CI must provide it "
                        "(./scripts/test installs chromium)", pytrace=False)
        pytest.skip(f"browser tests skipped: {problem}; run ./scripts/test, which installs it")


@contextmanager
def serve(app):
    """Serve ``app`` with werkzeug in a thread; yields the base URL (no trailing slash)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="yizhan-live", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@contextmanager
def launch():
    """Debian's headless chromium through Playwright; closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def offline(context, base_url, outside=None):
    """Abort every request that is not to the test server (no tiles, no CDNs); the aborted
    URLs are appended to ``outside`` when a list is given."""

    def route(route):
        if route.request.url.startswith(base_url + "/"):
            route.continue_()
        else:
            if outside is not None:
                outside.append(route.request.url)
            route.abort()

    context.route("**/*", route)


def phone_context(browser, base_url, *, geolocation=None, java_script_enabled=True, **options):
    """A 390×844 zh-CN phone in Beijing time, offline but for the test server. With a
    ``geolocation`` it stands there and has allowed the page to ask; ``options`` go to
    ``browser.new_context`` last (they win)."""
    settings = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "viewport": {"width": 390, "height": 844},
                "device_scale_factor": 2, "is_mobile": True, "has_touch": True, "base_url": base_url,
                "java_script_enabled": java_script_enabled}
    if geolocation is not None:
        settings.update(geolocation=dict(geolocation), permissions=["geolocation"])
    settings.update(options)
    context = browser.new_context(**settings)
    context.set_default_timeout(15_000)
    offline(context, base_url)
    return context


def collect_errors(page):
    """Gather the page's script errors and console errors in ``page.errors`` (failed loads
    do not count: map tiles are aborted on purpose, offline)."""
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    return page


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def login_form(page, username, password):
    """Log in through /login's form (the last submit button on the page)."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()


def shot(page, name, *, full_page=False):
    """Save a screenshot as screenshots/<name>.png (gitignored) for people to look at."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


TARGETS = ("a:visible, button:visible, select:visible, summary:visible, label:visible, "
           "input[type=search]:visible, input[type=text]:visible, textarea:visible, "
           "input[type=checkbox]:visible, input[type=radio]:visible")


def small_targets(page) -> list[str]:
    """Tap targets on the page smaller than 44×44 CSS px: checkboxes and radios themselves
    too, not only their labels (labels only for screen readers, class "sr", are no target)."""
    small = []
    for element in page.locator(f"main :is({TARGETS}):not(.sr), header :is({TARGETS})").all():
        box = element.bounding_box()
        if not box:
            continue
        if box["width"] < 44 - 0.5 or box["height"] < 44 - 0.5:
            small.append(f"{element.evaluate('e => e.outerHTML.slice(0, 80)')} "
                         f"{box['width']:.0f}×{box['height']:.0f}")
    return small


def wait_until(page, expression: str, timeout_s: float = 15.0):
    """Poll ``expression`` (a JavaScript expression or function) in ``page`` (or a frame)
    until it is truthy; its value.  Playwright's own ``wait_for_function`` polls through
    ``new Function``, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses
    whenever the first try is false; ``evaluate`` goes through the DevTools protocol."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = page.evaluate(expression)
        except Exception as exc:  # e.g. what it reads is not there yet, or the page navigates
            value, failure = None, exc
        else:
            failure = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s:g} s: {expression}") from failure
        time.sleep(0.05)
