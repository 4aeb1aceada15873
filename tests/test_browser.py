"""tests/browser.py: what counts as leaving the machine, and that the offline recorder catches it.

Every browser test asserts that its :class:`tests.browser.Offline` record is empty; these tests show that a
page which reaches for another machine fills that record, so those assertions can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser import LOADED, Offline, offline_context, render, stays_on_the_machine
from tools.serve import serve

CDN = "https://cdn.example.com/x.js"


@pytest.mark.parametrize(
    ("url", "local"),
    [("http://127.0.0.1:8000/intro.html", True), ("http://localhost/x", True), ("http://[::1]:80/", True),
     ("http://127.0.0.2/", True), ("file:///tmp/page.html", True), ("data:image/png;base64,AAAA", True),
     ("blob:http://127.0.0.1/uuid", True), ("about:blank", True),
     ("https://CDN.example.org:8443/x.js", False), ("http://10.0.0.1:53/", False), ("wss://ws.example.org/", False),
     ("http://localhost.example.org/", False), ("//cdn.example.org/x.js", False)],
)  # fmt: skip
def test_what_stays_on_the_machine(url: str, local: bool) -> None:
    assert stays_on_the_machine(url) is local


def test_a_page_that_loads_a_script_from_a_cdn_fails_the_check(browser: Browser, tmp_path: Path) -> None:
    """The self-test of every browser test's ``assert not ....blocked``: a remote script is caught."""
    page = tmp_path / "cdn.html"
    page.write_text(f'<!doctype html><meta charset="utf-8"><script src="{CDN}"></script><p>a page', encoding="utf-8")
    shown = render(browser, page, LOADED)
    assert shown.ready and "a page" in shown.dom
    assert shown.blocked == [CDN]  # so `assert not shown.blocked` fails


# Every way a page can reach for another machine that the recorder must catch, next to local loads it must not.
REACHES = """<!doctype html><meta charset="utf-8"><title>reaches</title><link rel="icon" href="data:,">
<link rel="preconnect" href="https://fonts.example.net"><link rel="dns-prefetch" href="//dns.example.net">
<link rel="stylesheet" href="https://cdn.example.com/x.css">
<script src="https://cdn.example.com/x.js"></script><script src="local.js"></script>
<img src="https://img.example.com/a.png" alt=""><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">
<iframe src="https://frame.example.com/"></iframe>
<script>
fetch("https://api.example.com/f").catch(() => {});
navigator.sendBeacon("https://beacon.example.com/b", "x");
new WebSocket("wss://ws.example.com/s");
new Worker(URL.createObjectURL(new Blob(["fetch('https://worker.example.com/w').catch(() => {})"])));
</script>"""
REMOTE = ["https://cdn.example.com/x.css", "https://cdn.example.com/x.js", "https://img.example.com/a.png",
          "https://frame.example.com/", "https://api.example.com/f", "https://beacon.example.com/b",
          "wss://ws.example.com/s", "https://worker.example.com/w", "resource hint: https://fonts.example.net/",
          "resource hint: http://dns.example.net/",
          "https://icon.example.com/favicon.ico"]  # fmt: skip


def test_every_way_off_the_machine_is_blocked_and_recorded(browser: Browser, tmp_path: Path) -> None:
    (tmp_path / "reaches.html").write_text(REACHES, encoding="utf-8")
    (tmp_path / "local.js").write_text("document.title = 'local script ran';", encoding="utf-8")
    offline = Offline()
    with serve(tmp_path) as site, offline_context(browser, offline) as context:
        page = context.new_page()
        page.goto(site + "reaches.html", wait_until="load")
        page.wait_for_function("() => document.title === 'local script ran'")
        page.wait_for_timeout(500)  # the worker's fetch, the socket
        offline.hints(page)
        assert offline.get(page, site + "local.js").ok  # type: ignore[union-attr]
        assert offline.get(page, "https://icon.example.com/favicon.ico") is None
    assert sorted(offline.blocked) == sorted(REMOTE)
    assert {site + "reaches.html", site + "local.js"} <= set(offline.passed)
