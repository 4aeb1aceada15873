"""Every page of the built book in a real browser: offline, no errors, every image, all the math.

``_build/html`` is served over HTTP from a thread on 127.0.0.1 (as the published book is served, so a
missing file such as the favicon is a failed request, not a silent ``file://`` miss). One Debian Chromium,
driven by Playwright and logging its network (``--log-net-log``), opens each page in a fresh page and
checks:

- no console message of type error and no uncaught exception;
- no failed request: none that failed in the browser, no response >= 400, nothing the server answered
  with an error while the page was open, and the page's icon (``favicon.ico`` where it names none) exists;
- no request to any host but 127.0.0.1, as the driver sees the page's requests;
- every ``<img>`` loaded (``naturalWidth > 0``), lazy ones included (they are made eager first);
- the math shows: every formula (``span.math``, ``div.math``) holds the SVG typeset at build time
  (_ext/static_math.py), visible ones have a size, the glyphs they use are in the page, and no TeX error
  is drawn;
- the animations advance in real time.

After the last page the browser is closed and its net log read (tests/netlog.py): no request, host lookup,
DNS query or connection went anywhere but 127.0.0.1, the browser's own background services aside. A
test proves that the net-log check flags a page that loads a script from a CDN.

Run after ``jupyter-book build``; ``make test`` sets CONVLIB_REQUIRE_SITE=1 (a missing build fails) and
``.ci/run`` sets CONVLIB_REQUIRE_BROWSER=1 (a missing chromium fails instead of skipping).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import launch
from tests.netlog import NetLog, is_local_host, url_host
from tests.notebooks import ROOT
from tools.serve import list_pages, serve

HTML = ROOT / "_build" / "html"

if not (HTML / "index.html").is_file():
    if os.environ.get("CONVLIB_REQUIRE_SITE"):
        raise RuntimeError(f"{HTML} has no index.html: the book build did not run or failed")
    pytest.skip("the book is not built (run `make book`)", allow_module_level=True)

PAGES = list_pages(HTML)  # the pages make audit scores
MATH = re.compile(r"""<(span|div)\b[^>]*\bclass=["'](?:[^"']*\s)?math[\s"']""")
REFRESH = re.compile(r"""<meta\s+http-equiv=["']refresh["']\s+content=["']\d+;\s*url=([^"']+)["']""", re.I)

# Run in the page once it has loaded: make lazy images eager, wait for every image (10 s at most), and
# list those that did not load.
IMAGES_JS = """async () => {
  const images = [...document.images];
  for (const img of images) if (img.loading === "lazy") img.loading = "eager";
  const settled = img => img.complete ? Promise.resolve() : new Promise(done => {
    img.addEventListener("load", done, {once: true}); img.addEventListener("error", done, {once: true}); });
  await Promise.race([Promise.all(images.map(settled)), new Promise(done => setTimeout(done, 10000))]);
  return images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src);
}"""
# The math is typeset when the book is built (_ext/static_math.py): every formula must hold its SVG, drawn
# at a size where it is visible, from glyphs the page defines, with no TeX error drawn in it.
MATH_JS = """() => {
  const math = [...document.querySelectorAll("span.math, div.math")];
  const svgs = math.map(m => m.querySelector(":scope > mjx-container > svg"));
  const untypeset = math.filter((m, i) => !svgs[i]).map(m => m.textContent.trim().slice(0, 80));
  const visible = svgs.filter(s => s && s.getClientRects().length);
  const glyphs = [...document.querySelectorAll("mjx-container use")].map(u => u.getAttribute("xlink:href"));
  return {count: math.length, untypeset: untypeset,
          empty: visible.filter(s => !(s.getBoundingClientRect().width > 0)).length,
          missing: [...new Set(glyphs.filter(h => !document.getElementById(h.slice(1))))],
          errors: [...document.querySelectorAll("mjx-container [data-mml-node='merror']")].map(e => e.textContent)};
}"""
# The icon the browser asks for: the page's <link rel="icon">, or /favicon.ico where it has none.
ICON_JS = """() => (document.querySelector("link[rel~='icon']") || {}).href || new URL("/favicon.ico", location).href"""
FRAMES_JS = """() => [...document.querySelectorAll("[data-convlib-anim]")].map(e => e.getAttribute("data-frame"))"""


@dataclass
class Server:
    """A folder served as ``make audit`` serves the book (as GitHub Pages does: gzip, cache headers), on
    127.0.0.1, with the (path, status) of every answer in ``log``."""

    root: Path
    log: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._serving = ExitStack()
        self.url = self._serving.enter_context(serve(self.root, self.log))

    def close(self) -> None:
        self._serving.close()


@dataclass
class Visit:
    """What the browser reported while one page was open: the problems, and every URL the page requested."""

    problems: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)


def record(page: Page) -> Visit:
    """Listen to the page: console errors, uncaught exceptions, failed requests, every request's URL."""
    visit = Visit()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            visit.problems.append(f"console error: {message.text}" + (f" ({where})" if where else ""))

    page.on("console", console)
    page.on("pageerror", lambda error: visit.problems.append(f"uncaught exception: {error.name}: {error.message}"))
    page.on("requestfailed", lambda r: visit.problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and visit.problems.append(f"HTTP {r.status} for {r.url}"))
    page.on("request", lambda r: visit.requested.append(r.url))
    return visit


def open_page(browser: Browser, url: str) -> tuple[Page, Visit]:
    page = browser.new_page()  # a fresh context: no cache, storage or service worker from another page
    page.set_default_timeout(30_000)
    visit = record(page)
    page.goto(url, wait_until="load")
    return page, visit


def remote_requests(urls: list[str]) -> list[str]:
    return sorted({u for u in urls if (host := url_host(u)) is not None and not is_local_host(host)})


@dataclass
class Session:
    """One browser, its net log and the server, shared by every test of the module."""

    browser: Browser
    net_log: Path
    server: Server
    visited: list[str] = field(default_factory=list)
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.browser.close()  # Chromium completes the net log as it exits


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def session(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    net_log = tmp_path_factory.mktemp("netlog") / "book.json"
    server = Server(HTML)
    session = Session(launch(playwright, net_log), net_log, server)
    yield session
    session.close()
    server.close()


def test_every_page_of_the_book_is_checked() -> None:
    assert len(PAGES) >= 30, f"only {len(PAGES)} pages found in {HTML}"
    assert {"intro.html", "explorer.html", "index.html"} <= set(PAGES)


def check_page(browser: Browser, server: Server, name: str) -> list[str]:
    """Open ``name`` from ``server`` in a fresh page and list what is wrong with it (empty: nothing)."""
    text = (server.root / name).read_text(encoding="utf-8")
    served = len(server.log)
    page, visit = open_page(browser, server.url + name)
    try:
        if refresh := REFRESH.search(text):  # index.html sends the reader on to the first page
            target = urljoin(page.url, refresh.group(1))
            page.wait_for_url(target, wait_until="load")
            text = (server.root / target.removeprefix(server.url)).read_text(encoding="utf-8")
        broken = page.evaluate(IMAGES_JS)
        math = page.evaluate(MATH_JS)
        if "data-convlib-anim=" in text:
            start = page.evaluate(FRAMES_JS)
            try:  # every player moves on from the frame it showed, by itself, within 5 s
                page.wait_for_function(f"s => ({FRAMES_JS})().every((f, i) => f !== s[i])", arg=start, timeout=5000)
            except PlaywrightTimeout:
                visit.problems.append(f"animations did not advance: frames {start} -> {page.evaluate(FRAMES_JS)}")
        # The browser fetches the page's icon for itself (the page's listeners never see it) and once per
        # site, so a missing favicon would fail one page, not every page: ask the server for it here too.
        if not (icon := page.evaluate(ICON_JS)).startswith("data:"):
            page.request.get(icon)
    finally:
        page.close()
    problems = visit.problems
    if refresh:  # leaving the page at once cancels what it was still loading (its icon): not a fault of the site
        problems = [p for p in problems if not (p.startswith("request failed:") and p.endswith("(net::ERR_ABORTED)"))]
    answered = [f"the server answered {status} to {path}" for path, status in server.log[served:] if status >= 400]
    problems += dict.fromkeys(answered)  # the favicon may be asked for twice
    problems += [f"request leaves 127.0.0.1: {u}" for u in remote_requests(visit.requested)]
    problems += [f"image did not load: {src}" for src in broken]
    if math["count"] < len(MATH.findall(text)):
        problems.append(f"{len(MATH.findall(text))} math elements in the HTML, {math['count']} in the page")
    problems += [f"math not typeset: {tex}" for tex in math["untypeset"]]
    problems += [f"{math['empty']} formulas drawn at zero size"] if math["empty"] else []
    problems += [f"glyph not in the page: {href}" for href in math["missing"]]
    problems += [f"TeX error drawn: {e}" for e in math["errors"]]
    return problems


@pytest.mark.parametrize("name", PAGES)
def test_page_in_a_browser(session: Session, name: str) -> None:
    problems = check_page(session.browser, session.server, name)
    session.visited.append(name)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def test_no_request_left_the_machine(session: Session) -> None:
    """Chromium's own net log, over every page visited above: nothing but 127.0.0.1 was contacted."""
    if not session.visited:  # run on its own (pytest -k): visit one page so the check is not empty
        page, _ = open_page(session.browser, session.server.url + "intro.html")
        page.close()
        session.visited.append("intro.html")
    session.close()
    log = NetLog.read(session.net_log)
    seen = {urlsplit(u).path.lstrip("/") for r in log.page_requests() for u in r.urls}
    missing = [name for name in session.visited if name not in seen]
    assert not missing, f"the net log does not show the pages visited: {missing[:5]}"
    offenders = log.offenders()
    assert not offenders, "traffic left the machine:\n  " + "\n  ".join(offenders)


def test_net_log_check_flags_a_cdn_script(playwright: Playwright, tmp_path: Path) -> None:
    """The check above is not vacuous: a page that loads a script from a CDN is caught by it."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "cdn.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>cdn</title><link rel="icon" href="data:,">'
        '<script src="https://cdn.example.org/x.js"></script><p>a page with a script from a CDN</p>',
        encoding="utf-8",
    )
    server = Server(site)
    browser = launch(playwright, tmp_path / "cdn.json")
    try:
        page, visit = open_page(browser, server.url + "cdn.html")
        page.close()
    finally:
        browser.close()
        server.close()
    assert remote_requests(visit.requested) == ["https://cdn.example.org/x.js"], visit.requested
    log = NetLog.read(tmp_path / "cdn.json")
    offenders = log.offenders()
    assert "request to https://cdn.example.org/x.js (initiator " + server.url.rstrip("/") + ")" in offenders, offenders
    assert all("cdn.example.org" in o for o in offenders), f"flagged besides the CDN: {offenders}"
    assert "cdn.example.org" not in log.browsers_own_hosts()


def test_page_check_catches_what_it_should(playwright: Playwright, tmp_path: Path) -> None:
    """The per-page check passes a sound page (a lazy image in a closed dropdown, math) and names each fault."""
    sys.path.insert(0, str(ROOT / "_ext"))
    from static_math import TeX2SVG  # the build's own typesetting

    tex2svg = TeX2SVG({})
    try:
        inline, display = tex2svg("x^2", display=False)["html"], tex2svg(r"\sum_i a_i", display=True)["html"]
        glyphs = tex2svg.defs()
        lost = tex2svg("y", display=False)["html"]  # its glyph is never put in a page
    finally:
        tex2svg.close()
    site = tmp_path / "site"
    site.mkdir()
    figure = next((HTML / "_images").glob("*.png"))
    (site / "figure.png").write_bytes(figure.read_bytes())
    page = '<!doctype html><meta charset="utf-8"><title>t</title>'
    (site / "good.html").write_text(
        page + f'<link rel="icon" href="figure.png">{glyphs}<div style="height:5000px"></div>'
        '<details><summary>solution</summary><img loading="lazy" src="figure.png" alt=""></details>'
        f'<p><span class="math notranslate nohighlight">{inline}</span></p><div class="math">{display}</div>',
        encoding="utf-8",
    )
    error = inline.replace('data-mml-node="mi"', 'data-mml-node="merror"', 1)
    flat = re.sub(r'width="[^"]+"', 'width="0"', inline, count=1)  # the <svg>'s own width
    (site / "bad.html").write_text(
        page + f'{glyphs}<img src="missing.png" alt=""><p><span class="math">\\(x\\)</span>'
        f'<span class="math">{lost}</span><span class="math">{error}</span>'
        f'<span class="math">{flat}</span></p>'
        '<script src="gone.js"></script><script>console.error("boom"); throw new Error("uncaught");</script>',
        encoding="utf-8",
    )
    server = Server(site)
    browser = launch(playwright, tmp_path / "net.json")
    try:
        good, bad = (check_page(browser, server, n) for n in ("good.html", "bad.html"))
    finally:
        browser.close()
        server.close()
    assert good == [], good
    expected = ["console error: boom", "uncaught exception: Error: uncaught", "the server answered 404 to /gone.js",
                "the server answered 404 to /missing.png", "image did not load:", "math not typeset: \\(x\\)",
                "glyph not in the page: #MJX-TEX-I-1D466", "TeX error drawn:", "1 formulas drawn at zero size",
                "the server answered 404 to /favicon.ico"]  # fmt: skip
    for fault in expected:
        assert any(p.startswith(fault) for p in bad), f"{fault!r} not reported: {bad}"
