"""A real browser for the tests, offline: Debian's ``chromium``, driven by Playwright.

Playwright drives the system's Chromium (never a browser of its own: ``playwright install`` is never run,
and the machines that run the tests have no network). With ``CONVLIB_REQUIRE_BROWSER=1`` (set by
``.ci/run``, which installs chromium when absent) a missing browser fails the test instead of skipping it.

**Offline, and checked.** Every page opens in a fresh context (no cache, storage or service worker from
another page) made by :func:`offline_context`, whose requests all pass through an :class:`Offline`
recorder as they are made (``context.route``, which also sees the requests of frames, workers and pages
that a page opens, and ``context.route_web_socket``): a request to 127.0.0.1, ``localhost`` or ``::1``, or
with a scheme that never touches the network (``file:``, ``data:``, ``blob:``, ``about:``), goes on; any
other is aborted before it is sent and its URL recorded in ``Offline.blocked``. The tests assert that
record is empty, and tests/test_browser.py that a page loading a script from a CDN fills it.

Routes do not see everything, so there are three more guards:

- ``page.request`` (Playwright's own HTTP client, not the browser's) bypasses routes: fetch through
  :meth:`Offline.get`, which records and refuses a remote URL;
- a resource hint (``<link rel="preconnect">``, ``dns-prefetch``) opens a connection or looks a name up
  without any request: :meth:`Offline.hints` records those of a page that name another host;
- Chromium resolves no host name but ``localhost`` (``--host-resolver-rules``), so neither such hints nor
  the browser's own background services (sign-in, push messaging), which no route sees, can reach another
  machine by name.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import APIResponse, Browser, BrowserContext, Page, Playwright, Route, WebSocketRoute


# How every test starts Chromium: headless, no GPU, none of its background services, no QUIC, no name lookups.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-quic",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]  # fmt: skip
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
NO_NETWORK = {"file", "data", "blob", "about"}  # schemes that never leave the machine
# Conditions for render(): the page has loaded; every animation player on it has moved on twice.
LOADED = "document.readyState === 'complete'"
ANIMATIONS_ADVANCED = """() => { const players = [...document.querySelectorAll("[data-convlib-anim]")];
  return players.length > 0 && players.every(p => +p.getAttribute("data-frame") >= 2); }"""
# The resource hints of a page that name a host: each would open a connection or look the name up.
HINTS_JS = """() => [...document.querySelectorAll(
  "link[rel~='preconnect'], link[rel~='dns-prefetch'], link[rel~='prefetch'], link[rel~='prerender']")]
  .map(link => link.href)"""


def chromium() -> str:
    """The browser's path; skips the calling test where it is missing, unless the browser is required."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CONVLIB_REQUIRE_BROWSER"):
            pytest.fail("CONVLIB_REQUIRE_BROWSER is set but Debian's chromium is not installed")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return path


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium driven by Playwright, with :data:`FLAGS`."""
    return playwright.chromium.launch(executable_path=chromium(), args=FLAGS)


def stays_on_the_machine(url: str) -> bool:
    """Whether a request for ``url`` stays on this machine: loopback hosts, and schemes without a network."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in NO_NETWORK:
        return True
    host = (parts.hostname or "").lower()
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Offline:
    """Blocks every request that would leave the machine, as it is made, and records it in ``blocked``.

    ``passed`` lists the requests let through, which shows that a page's requests did pass the recorder.
    """

    blocked: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.route("**/*", self._request)
        context.route_web_socket(re.compile(".*"), self._websocket)

    def _request(self, route: Route) -> None:
        url = route.request.url
        if stays_on_the_machine(url):
            self.passed.append(url)
            route.fallback()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _websocket(self, socket: WebSocketRoute) -> None:
        if stays_on_the_machine(socket.url):
            self.passed.append(socket.url)
            socket.connect_to_server()
        else:
            self.blocked.append(socket.url)
            socket.close()

    def get(self, page: Page, url: str) -> APIResponse | None:
        """``page.request.get(url)``, which no route sees, for a URL on this machine; a remote one is recorded."""
        if not stays_on_the_machine(url):
            self.blocked.append(url)
            return None
        self.passed.append(url)
        return page.request.get(url)

    def hints(self, page: Page) -> None:
        """Record the resource hints of ``page`` that name another machine (they open no request to route)."""
        self.blocked += [f"resource hint: {url}" for url in page.evaluate(HINTS_JS) if not stays_on_the_machine(url)]


@contextmanager
def offline_context(browser: Browser, offline: Offline, **options: Any) -> Iterator[BrowserContext]:
    """A fresh context (``options``: viewport, colour scheme, touch...) whose requests pass through ``offline``."""
    context = browser.new_context(service_workers="block", **options)
    offline.attach(context)
    try:
        yield context
    finally:
        context.close()


@dataclass
class Rendered:
    """A page as the browser left it: its DOM, whether ``ready`` came true, what it tried to fetch from afar."""

    dom: str
    ready: bool
    blocked: list[str]


def render(browser: Browser, page: Path | str, ready: str, timeout_ms: int = 30_000) -> Rendered:
    """Open ``page`` (a file, or a URL) offline and wait until the JavaScript expression ``ready`` is true.

    ``ready`` replaces a fixed wait: "every animation has advanced twice", "the search has answered". If it
    never comes true the DOM is returned as it is then, for the test's assertions to say what is missing.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url = page if isinstance(page, str) else page.as_uri()
    offline = Offline()
    with offline_context(browser, offline) as context:
        tab = context.new_page()
        tab.goto(url, wait_until="load")
        try:
            tab.wait_for_function(ready, timeout=timeout_ms)
            done = True
        except PlaywrightTimeout:
            done = False
        offline.hints(tab)
        return Rendered(tab.content(), done, offline.blocked)
