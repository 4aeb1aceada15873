"""Every page of the built book in a real browser: offline, no errors, every image, all the math.

``_build/html`` is served over HTTP from a thread on 127.0.0.1 (as the published book is served, so a
missing file such as the favicon is a failed request, not a silent ``file://`` miss). One Debian Chromium,
driven by Playwright and offline (tests/browser.py), opens each page in a fresh context and checks:

- no console message of type error and no uncaught exception;
- no failed request: none that failed in the browser, no response >= 400, nothing the server answered
  with an error while the page was open, and the page's icon (``favicon.ico`` where it names none) exists;
- no request to another machine: each is blocked as it is made and recorded, and so is a resource hint
  (preconnect, dns-prefetch) that names another host;
- every ``<img>`` loaded (``naturalWidth > 0``), lazy ones included (they are made eager first);
- the math shows: every formula (``span.math``, ``div.math``) holds the SVG typeset at build time
  (_ext/static_math.py), visible ones have a size, the glyphs they use are in the page, and no TeX error
  is drawn;
- the animations advance in real time.

After the last page, the one record kept over every page visited must be empty, and must show that those
pages' requests passed through it. A test proves that the check flags a page that loads a script from a CDN.

Run after ``jupyter-book build``; ``make test`` sets CONVLIB_REQUIRE_SITE=1 (a missing build fails) and
``.ci/run`` sets CONVLIB_REQUIRE_BROWSER=1 (a missing chromium fails instead of skipping).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import Offline, offline_context
from tests.helpers import HTML, ROOT, require_site
from tools.serve import list_pages, serve

require_site()

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


def listen(page: Page) -> list[str]:
    """The problems the page reports while it is open: console errors, uncaught exceptions, failed requests."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            problems.append(f"console error: {message.text}" + (f" ({where})" if where else ""))

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error.name}: {error.message}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status} for {r.url}"))
    return problems


@dataclass
class Session:
    """The browser, the server and one offline record over every page, shared by the tests of the module."""

    browser: Browser
    server: Server
    offline: Offline = field(default_factory=Offline)
    visited: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def session(browser: Browser) -> Iterator[Session]:
    server = Server(HTML)
    yield Session(browser, server)
    server.close()


def test_every_page_of_the_book_is_checked() -> None:
    assert len(PAGES) >= 30, f"only {len(PAGES)} pages found in {HTML}"
    assert {"intro.html", "explorer.html", "index.html"} <= set(PAGES)


def check_page(browser: Browser, server: Server, offline: Offline, name: str) -> list[str]:
    """Open ``name`` from ``server`` in a fresh context and list what is wrong with it (empty: nothing)."""
    text = (server.root / name).read_text(encoding="utf-8")
    served, blocked = len(server.log), len(offline.blocked)
    with offline_context(browser, offline) as context:  # no cache, storage or service worker from another page
        page = context.new_page()
        page.set_default_timeout(30_000)
        problems = listen(page)
        page.goto(server.url + name, wait_until="load")
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
                problems.append(f"animations did not advance: frames {start} -> {page.evaluate(FRAMES_JS)}")
        # The browser fetches the page's icon for itself (no route or listener sees it) and once per site, so a
        # missing favicon would fail one page, not every page: ask the server for it here too.
        if not (icon := page.evaluate(ICON_JS)).startswith("data:"):
            offline.get(page, icon)
        offline.hints(page)
    if refresh:  # leaving the page at once cancels what it was still loading (its icon): not a fault of the site
        problems = [p for p in problems if not (p.startswith("request failed:") and p.endswith("(net::ERR_ABORTED)"))]
    answered = [f"the server answered {status} to {path}" for path, status in server.log[served:] if status >= 400]
    problems += dict.fromkeys(answered)  # the favicon may be asked for twice
    problems += [f"request leaves the machine: {url}" for url in offline.blocked[blocked:]]
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
    problems = check_page(session.browser, session.server, session.offline, name)
    session.visited.append(name)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def test_no_request_left_the_machine(session: Session) -> None:
    """The record over every page visited above: each page's requests passed it, none went to another machine."""
    if not session.visited:  # run on its own (pytest -k): visit one page so the check is not empty
        check_page(session.browser, session.server, session.offline, "intro.html")
        session.visited.append("intro.html")
    seen = {urlsplit(url).path.lstrip("/") for url in session.offline.passed}
    missing = [name for name in session.visited if name not in seen]
    assert not missing, f"the record does not show the pages visited: {missing[:5]}"
    assert not session.offline.blocked, "requests to another machine:\n  " + "\n  ".join(session.offline.blocked)


def test_page_check_flags_a_cdn_script(browser: Browser, tmp_path: Path) -> None:
    """The checks above are not vacuous: a page that loads a script from a CDN is caught, and nothing else."""
    (tmp_path / "cdn.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>cdn</title><link rel="icon" href="data:,">'
        '<script src="https://cdn.example.org/x.js"></script><p>a page with a script from a CDN</p>',
        encoding="utf-8",
    )
    server, offline = Server(tmp_path), Offline()
    try:
        problems = check_page(browser, server, offline, "cdn.html")
    finally:
        server.close()
    assert offline.blocked == ["https://cdn.example.org/x.js"]
    assert "request leaves the machine: https://cdn.example.org/x.js" in problems, problems
    assert server.url + "cdn.html" in offline.passed


def test_page_check_catches_what_it_should(browser: Browser, tmp_path: Path) -> None:
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
    try:
        good, bad = (check_page(browser, server, Offline(), n) for n in ("good.html", "bad.html"))
    finally:
        server.close()
    assert good == [], good
    expected = ["console error: boom", "uncaught exception: Error: uncaught", "the server answered 404 to /gone.js",
                "the server answered 404 to /missing.png", "image did not load:", "math not typeset: \\(x\\)",
                "glyph not in the page: #MJX-TEX-I-1D466", "TeX error drawn:", "1 formulas drawn at zero size",
                "the server answered 404 to /favicon.ico"]  # fmt: skip
    for fault in expected:
        assert any(p.startswith(fault) for p in bad), f"{fault!r} not reported: {bad}"
