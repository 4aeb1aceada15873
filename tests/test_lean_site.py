"""The book's own Sphinx extensions (_ext/): light pages and math typeset at build time (issue #14).

The unit tests call the extensions' functions directly; the rest check what they did to the built
site in _build/html (skipped when the book is not built, failing under CONVLIB_REQUIRE_SITE=1).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from PIL import Image
from playwright.sync_api import Browser

from tests.browser import render
from tests.helpers import HTML, NOT_BUILT, ROOT, site_is_built
from tools.serve import list_pages

sys.path.insert(0, str(ROOT / "_ext"))
import html_tags
import lean_icons
import lean_site
import static_math

BUILT = site_is_built()
needs_site = pytest.mark.skipif(not BUILT, reason=NOT_BUILT)
PAGES = [HTML / page for page in list_pages(HTML)] if BUILT else []
page_ids = {"ids": lambda p: str(p.relative_to(HTML))}


# --- unit tests of the extensions' helpers


def test_description_is_the_opening_sentences_within_the_limit() -> None:
    from docutils.core import publish_doctree

    long = "First sentence of the page is here. " + "Then words go on and on. " * 10
    doctree = publish_doctree(f"Title\n=====\n\nShort.\n\n{long}\n")
    text = lean_site.describe(doctree, "fallback")
    assert text.startswith("First sentence") and text.endswith(".") and len(text) <= lean_site.DESCRIPTION_CHARS
    assert lean_site.describe(publish_doctree("Title\n=====\n\nShort.\n"), "fallback") == "fallback"
    assert lean_site.describe(None, "fallback") == "fallback"


def test_drop_tags_removes_only_the_named_loads() -> None:
    fontawesome, preload, script = (
        '<script defer src="a/fontawesome.js?x=1"></script>\n',
        '<link href="b.js" />\n',
        '<script src="c.js"></script>\n',
    )
    head = fontawesome + preload + script
    assert lean_site.drop_tags(head, "fontawesome.js") == preload + script
    assert lean_site.drop_tags(head, "b.js", "c.js") == fontawesome


def test_assets_by_need() -> None:
    assert lean_site.needed("_static/sphinx-design.min.css", '<div class="sd-card">')
    assert not lean_site.needed("_static/sphinx-design.min.css", "<p>no design here</p>")
    assert not lean_site.needed("_static/math.css", "<p>no math</p>")
    assert lean_site.needed("_static/basic.css", "")  # not listed: always kept


def test_icon_css_draws_each_icon_of_its_pack() -> None:
    css = lean_icons.icon_css({("fab", "fa-github"), ("fa-solid", "fa-sun", "fa-lg"), ("fas", "fa-no-such-icon")})
    assert ".fab.fa-github::before" in css and ".fa-solid.fa-sun::before" in css
    assert "no-such-icon" not in css and "fa-lg" not in css
    assert css.count("mask-image:url(") == 2 * 2  # -webkit- and standard, per icon


def test_body_rewrite_changes_only_the_tags_it_means(tmp_path: Path) -> None:
    from types import SimpleNamespace

    Image.new("RGB", (30, 20)).save(tmp_path / "a.png")
    app = SimpleNamespace(srcdir=str(tmp_path), builder=SimpleNamespace(images={"a.png": "a.png"}))
    keep = (
        '<svg viewBox="0 0 1 1"><path d="M0 0"/></svg>&nbsp;<br />\n<!-- <img src="a.png"> -->'
        '<script>const s = "<img src=a.png>";</script>'
    )
    body = f'<p><img alt="a &gt; b" src="_images/a.png"/></p>{keep}<img src="x.svg">\n<ol><li role="doc-biblioentry">'
    context = {"body": body}
    lean_site.lean_body(app, "page", "page.html", context, None)
    assert context["body"] == (
        f'<p><img alt="a &gt; b" src="_images/a.png" width="30" height="20" /></p>{keep}'
        '<img src="x.svg" loading="lazy" decoding="async" />\n<ol><li role="listitem">'
    )


def test_start_tags_know_where_each_tag_and_element_ends() -> None:
    text = '<head>\n  <link href="a.css" />\n  <script defer src="b.js"></script>\n</head>'
    link, script = html_tags.start_tags(text)[1:]
    assert text[link.start : link.end] == link.text == '<link href="a.css" />' and link.close == link.end
    assert text[script.start : script.close] == '<script defer src="b.js"></script>'
    assert script.attrs == {"defer": None, "src": "b.js"}


def test_display_tex_follows_sphinx_mathjax() -> None:
    from docutils import nodes

    block = nodes.math_block("a = b\n\nc = d \\\\ e", "a = b\n\nc = d \\\\ e", nowrap=False, number=None)
    assert static_math.display_tex(block) == (
        r"\begin{align}\begin{aligned}a = b\\\begin{split}c = d \\ e\end{split}\end{aligned}\end{align}"
    )
    raw = nodes.math_block("", r"\begin{align}x\end{align}", nowrap=True, number=None)
    assert static_math.display_tex(raw) == r"\begin{align}x\end{align}"


def test_tex2svg_typesets_and_reports_errors() -> None:
    tex2svg = static_math.TeX2SVG({"R": r"\mathbb{R}"})
    try:
        good = tex2svg(r"x \in \R^{3}", display=False)
        assert good["html"].startswith("<mjx-container") and "<svg" in good["html"] and "<math" in good["html"]
        assert 'fill="currentColor"' in good["html"]  # follows the page's text colour, dark mode included
        assert tex2svg(r"\nosuchmacro", display=False) == {"error": r"Undefined control sequence \nosuchmacro"}
        assert "error" in tex2svg("x^{", display=True)
        assert "mjx-container" in tex2svg.css
    finally:
        tex2svg.close()


# --- the built site


@needs_site
@pytest.mark.parametrize("page", PAGES, **page_ids)
def test_every_page_is_light_described_and_accessible(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "fontawesome.js" not in text, "FontAwesome's script is back"
    search = {"searchindex.js", "searchtools.js"} & set(re.findall(r'src="[^"]*?([\w.]+\.js)', text))
    assert bool(search) == (page.name == "search.html"), f"search scripts where they are not needed: {search}"
    description = re.search(r'<meta name="description" content="([^"]+)"', text)
    assert description and 20 <= len(description.group(1)) <= 200, "no meta description"
    assert re.search(r'<link rel="icon" href="[^"]*favicon\.svg"', text), "no favicon"
    assert 'role="doc-biblioentry"' not in text


@needs_site
@pytest.mark.parametrize("page", PAGES, **page_ids)
def test_figures_have_their_size_and_load_lazily_below_the_first(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    figures = re.findall(r"<img\b[^>]*\bsrc=\"[^\"]*_images/[^>]*>", text[text.find("<main") :])
    for i, tag in enumerate(figures):
        src = re.search(r'src="([^"]+)"', tag).group(1)  # type: ignore[union-attr]
        with Image.open(page.parent / src) as image:
            assert f'width="{image.width}" height="{image.height}"' in tag, f"{src}: {tag}"
        assert ('loading="lazy"' in tag) == (i > 0), f"image {i}: {tag}"


@needs_site
def test_the_root_is_a_complete_page_that_leads_to_the_intro() -> None:
    text = (HTML / "index.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<html lang="en">' in text and "<title>" in text
    assert '<meta http-equiv="refresh" content="0; url=intro.html" />' in text and '<a href="intro.html">' in text


@needs_site
def test_search_finds_pages_in_a_browser(browser: Browser) -> None:
    """The search page still loads its index and answers a query, with the other pages' scripts deferred."""
    finished = "document.querySelector('#search-results h2')?.textContent === 'Search Results'"  # searchtools.js
    shown = render(browser, (HTML / "search.html").as_uri() + "?q=dilation", finished)
    assert shown.ready and not shown.blocked, shown.blocked
    dom = shown.dom
    results = re.findall(r'<li[^>]*>\s*<a href="([^"]+\.html)', dom[dom.find('id="search-results"') :])
    assert len(results) >= 3 and any("03-padding-stride-dilation" in r for r in results), results[:5]


@needs_site
def test_icon_fonts_are_cut_to_the_glyphs_the_css_draws() -> None:
    css = "".join(p.read_text(encoding="utf-8") for p in (HTML / "_static" / "styles").glob("*.css"))
    drawn = {ord(c) for c in lean_icons.PRIVATE_USE.findall(css)}
    solid = HTML / "_static" / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.woff2"
    assert solid.stat().st_size < 10_000
    assert {0xF0F3, 0xF35D} <= set(TTFont(solid).getBestCmap()) <= drawn  # bell (admonitions), external link


@needs_site
def test_every_icon_used_is_drawn_by_icons_css() -> None:
    css = (HTML / "_static" / "icons.css").read_text(encoding="utf-8")
    names = set()
    for page in PAGES:
        for classes in re.findall(r'class="([^"]*\bfa-[^"]*)"', page.read_text(encoding="utf-8")):
            names |= {c for c in classes.split() if c.startswith("fa-") and c not in ("fa-solid", "fa-brands", "fa-lg")}
    assert names and all(f".{n}::before" in css for n in names), sorted(n for n in names if f".{n}::before" not in css)
