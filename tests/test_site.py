"""Checks on the built site in _build/html: complete, offline, with math, figures and launch buttons.

Run after ``jupyter-book build``; ``make test`` does both, and sets CONVLIB_REQUIRE_SITE=1 so that a
missing build fails instead of skipping.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from playwright.sync_api import Browser

from tests.browser import ANIMATIONS_ADVANCED, LOADED, render
from tests.helpers import HTML, NOTEBOOKS, ROOT, require_site
from tools.serve import list_pages

require_site()

PAGES = [HTML / page for page in list_pages(HTML)]
CHAPTER_PAGES = [HTML / p.relative_to(ROOT).with_suffix(".html") for p in NOTEBOOKS]
# Attributes through which a page *loads* something (as opposed to plain hyperlinks).
LOADING = {("script", "src"), ("img", "src"), ("source", "src"), ("iframe", "src"), ("embed", "src"),
           ("video", "src"), ("audio", "src"), ("link", "href"), ("object", "data")}  # fmt: skip
REMOTE = re.compile(r"^(https?:)?//", re.I)
CSS_REMOTE = re.compile(r"""url\(\s*['"]?(https?:)?//|@import\s+['"](https?:)?//""", re.I)
# A JS file that fetches code, styles or fonts from elsewhere names the asset's URL.
JS_REMOTE = re.compile(r"""['"`](https?:)?//[^'"`\s]+\.(js|mjs|css|woff2?|ttf|otf|eot)(\?[^'"`]*)?['"`]""", re.I)


class Loads(HTMLParser):
    """Collect (tag, attribute, url) for everything a page loads; plain hyperlinks are not loads."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for attr in ("src", "href", "data"):
            if attr not in a:
                continue
            loads = (tag, attr) in LOADING and not (tag == "link" and a.get("rel") in ("canonical", "next", "prev"))
            if loads:
                self.loads.append((tag, attr, a[attr]))
        if "srcset" in a:
            self.loads += [(tag, "srcset", s.split()[0]) for s in a["srcset"].split(",") if s.strip()]


def parse(page: Path) -> Loads:
    parser = Loads()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def local_target(page: Path, url: str) -> Path | None:
    parts = urlparse(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


def test_the_intro_and_every_chapter_are_built() -> None:
    assert (HTML / "intro.html").is_file()
    missing = [str(p.relative_to(HTML)) for p in CHAPTER_PAGES if not p.is_file()]
    assert not missing, f"chapters missing from the site: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_pages_load_nothing_remote(page: Path) -> None:
    remote = [f"<{t} {a}={u}>" for t, a, u in parse(page).loads if REMOTE.match(u)]
    assert not remote, f"{page.name} loads from the network: {remote}"
    inline = [m.group(0) for m in JS_REMOTE.finditer(page.read_text(encoding="utf-8"))]
    assert not inline, f"{page.name} has inline code that names remote assets: {inline}"


def test_css_and_js_load_nothing_remote() -> None:
    offenders = []
    for path in HTML.rglob("*"):
        if path.suffix == ".css" and CSS_REMOTE.search(path.read_text(encoding="utf-8", errors="replace")):
            offenders.append(str(path.relative_to(HTML)))
        if path.suffix in (".js", ".mjs"):
            urls = {m.group(0)[1:-1] for m in JS_REMOTE.finditer(path.read_text("utf-8", errors="replace"))}
            offenders += [f"{path.relative_to(HTML)}: {url}" for url in sorted(urls)]
    assert not offenders, f"assets that fetch from the network: {offenders}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_local_assets_exist(page: Path) -> None:
    missing = [u for _, _, u in parse(page).loads if (t := local_target(page, u)) and not t.exists()]
    assert not missing, f"{page.name} loads files that are not in the site: {missing}"


MATH = re.compile(r'<(span|div) class="math notranslate nohighlight"[^>]*>(.*?)</\1>', re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_math_is_typeset_when_the_book_is_built(page: Path) -> None:
    """Every formula is already an SVG in the page (_ext/static_math.py); no page loads MathJax."""
    text = page.read_text(encoding="utf-8")
    assert "mathjax" not in " ".join(u.lower() for t, _, u in parse(page).loads if t == "script"), "loads MathJax"
    formulas = MATH.findall(text)
    for _, inner in formulas:
        assert "<mjx-container" in inner and "<svg" in inner and "<math" in inner, f"not typeset: {inner[:200]}"
        assert 'data-mml-node="merror"' not in inner, f"a TeX error was drawn: {inner[:200]}"
    # the glyphs the formulas <use> are defined once, in the page
    used, defined = set(re.findall(r'xlink:href="#(MJX-[^"]+)"', text)), re.findall(r'<path id="(MJX-[^"]+)"', text)
    assert used <= set(defined) and len(defined) == len(set(defined)), sorted(used - set(defined))[:5]
    assert bool(formulas) == bool(used)


def test_the_math_is_in_the_book() -> None:
    """The notation table of the intro and the chapters' formulas are among the typeset ones."""
    counts = {p.stem: len(MATH.findall(p.read_text(encoding="utf-8"))) for p in [HTML / "intro.html", *CHAPTER_PAGES]}
    assert counts["intro"] >= 5 and sum(counts.values()) >= 500, counts


@pytest.mark.parametrize("page", CHAPTER_PAGES, ids=lambda p: p.stem)
def test_chapter_figures_are_present(page: Path) -> None:
    images = [u for t, _, u in parse(page).loads if t == "img" and "_images/" in u]
    assert images, f"{page.name} shows no figures"
    assert all(local_target(page, u).is_file() for u in images)  # type: ignore[union-attr]


@pytest.mark.parametrize("page", CHAPTER_PAGES, ids=lambda p: p.stem)
def test_download_button_and_launch_buttons_follow_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    match = re.search(r'href="([^"]*_sources/[^"]+\.ipynb)"', text)
    assert match, "no .ipynb download button"
    assert local_target(page, match.group(1)).is_file(), "the .ipynb download points at no file"  # type: ignore[union-attr]
    # The repository and Colab buttons follow BOOK_REPOSITORY (_ext/published_repo.py): a local build has none,
    # the published one opens its own repository (tests/test_published_repo.py builds both ways).
    repository = os.environ.get("BOOK_REPOSITORY", "")
    notebook = page.relative_to(HTML).with_suffix(".ipynb").as_posix()
    colab = f"https://colab.research.google.com/github/{repository}/blob/"
    if repository:
        assert f'href="https://github.com/{repository}"' in text and colab in text and notebook in text
    else:
        assert "github.com/" not in text and "colab.research.google.com" not in text, "a button to no repository"
    assert "thebe" not in text.lower(), "thebe must be off: no launch button, scripts or config"


def test_no_build_artifacts_of_execution() -> None:
    assert not (ROOT / "_build" / ".jupyter_cache").exists(), "the build executed notebooks"


ANIMATED = [p for p in PAGES if "data-convlib-anim" in p.read_text(encoding="utf-8")]


def test_math_shows_in_a_browser_without_network(browser: Browser) -> None:
    """The typeset formulas of intro.html survive a real browser's rendering, with no script to help."""
    shown = render(browser, HTML / "intro.html", LOADED)
    assert not shown.blocked, shown.blocked
    assert shown.dom.count("<mjx-container") >= 5


def test_the_animations_are_in_the_book() -> None:
    assert ANIMATED, "no page of the book holds an animation"


@pytest.mark.parametrize("page", ANIMATED, ids=lambda p: p.stem)
def test_animations_play_without_network(browser: Browser, page: Path) -> None:
    """Every animation on the page starts by itself and advances, with no kernel and no network."""
    expected = len(set(re.findall(r'data-convlib-anim="(\w+)"', page.read_text(encoding="utf-8"))))
    shown = render(browser, page, ANIMATIONS_ADVANCED)
    assert not shown.blocked, shown.blocked
    frames = re.findall(r'data-convlib-anim="\w+"[^>]*data-frame="(\d+)"', shown.dom)
    assert len(frames) >= expected, f"{page.name}: {len(frames)} players rendered, expected {expected}"
    assert all(int(f) >= 2 for f in frames), f"{page.name}: an animation did not advance: frames {frames}"
