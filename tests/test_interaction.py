"""The book in a reader's hands: its controls tapped in a real browser, at a phone's width and a desktop's.

Loading a page (tests/test_pages.py) does not show that its buttons work: pydata-sphinx-theme >= 0.17.1 under
sphinx-book-theme drew a second, hidden header whose toggles the theme's script bound, so on a phone the ☰
button did nothing (sphinx-book-theme #986, #988; fixed in _ext/published_repo.py). Here Debian's Chromium,
driven by Playwright and offline (tests/browser.py), uses a chapter page at 390 px (touch, taps) and 1400 px
(mouse), in light and dark mode:

- ☰ opens the primary sidebar, which lists every chapter, and a tap on a chapter opens it;
- the secondary toggle opens the page's contents, and its links scroll to their sections;
- the search dialog opens from Ctrl+K and from the search button, and answers a query;
- the theme switch changes the mode, and the mode persists on the next page;
- the download button serves the page's ``.ipynb``;
- "Show code cell source" expands its cell;
- the next and previous links open the neighbouring pages of the table of contents;
- Tab alone reaches every control, each with a visible focus ring, and Enter on ☰ opens the sidebar;
- no page is wider than the viewport, and nothing in the article runs past its column unless it scrolls
  in its own box (every page of the book, at both widths);
- and, throughout, nothing is requested from another machine.

Each check returns the problems it found. ``test_each_check_fails_on_a_broken_page`` serves the same page with
one control broken at a time (the browser's requests for it are answered with altered HTML) and requires the
matching check to report it, so no check can pass by testing nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, Route
from playwright.sync_api import Error as PlaywrightError

from tests.browser import Offline, offline_context, stays_on_the_machine
from tests.helpers import HTML, ROOT, require_site, toc_files
from tools.serve import list_pages, serve

require_site()

PAGE = "chapters/02-convolution-layer/02-convolution-layer.html"  # a notebook: hidden code, figures, neighbours
PHONE, DESKTOP = 390, 1400
VIEWS = [(width, scheme) for width in (PHONE, DESKTOP) for scheme in ("light", "dark")]
SHORT = 5_000  # ms: a control that works answers at once
TOC = [f + ".html" for f in toc_files()]


def chapters() -> list[str]:
    """The chapter-level pages of _toc.yml (each part's chapters, not their sections)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [c["file"] + ".html" for part in toc["parts"] for c in part["chapters"]]


# ------------------------------------------------------------------ the browser


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve(HTML) as url:
        yield url


@contextmanager
def view(browser: Browser, offline: Offline, width: int, scheme: str) -> Iterator[BrowserContext]:
    """A fresh profile at ``width`` in ``scheme``, offline; a phone has touch, so controls are tapped there."""
    phone = width <= PHONE
    with offline_context(
        browser,
        offline,
        viewport={"width": width, "height": 844 if phone else 900},
        color_scheme=scheme,
        has_touch=phone,
        is_mobile=phone,
    ) as context:
        context.set_default_timeout(SHORT)
        yield context


def press(page: Page, selector: str) -> None:
    """Tap where the reader has touch, click where a mouse."""
    control = page.locator(selector).locator("visible=true").first
    if page.viewport_size and page.viewport_size["width"] <= PHONE:
        control.tap()
    else:
        control.click()


def path_of(url: str, base: str) -> str:
    return url.removeprefix(base).split("#")[0].split("?")[0]


# ------------------------------------------------------------------ the checks (each returns its problems)

Check = Callable[[Page, str], list[str]]


def check_primary_sidebar(page: Page, base: str) -> list[str]:
    """☰ shows the chapter list (a modal on a phone, the sidebar on a desktop); a chapter link opens it."""
    sidebar = "#pst-primary-sidebar-modal[open]" if page.viewport_size["width"] < 992 else "#pst-primary-sidebar"  # type: ignore[index]
    if page.viewport_size["width"] >= 992:  # type: ignore[index]
        press(page, "button.primary-toggle")  # visible from the start: the toggle hides it, a second shows it
        try:
            page.locator("#pst-primary-sidebar").wait_for(state="hidden")
        except PlaywrightError:
            return ["☰ did not hide the primary sidebar"]
    press(page, "button.primary-toggle")
    try:
        page.locator(sidebar).wait_for(state="visible")
    except PlaywrightError:
        return ["☰ did not open the primary sidebar"]
    links = page.locator(f"{sidebar} nav.bd-docs-nav a.reference.internal").locator("visible=true")
    listed = [path_of(a, base) for a in links.evaluate_all("as => as.map(a => a.href)")]
    missing = [c for c in chapters() if c not in listed]
    if missing:
        return [f"the open sidebar does not list {missing}"]
    target = chapters()[2]
    link = links.nth(listed.index(target))
    with page.expect_navigation():
        link.tap() if page.viewport_size["width"] <= PHONE else link.click()  # type: ignore[index]
    if path_of(page.url, base) != target:
        return [f"a tap on the chapter {target} opened {page.url}"]
    return []


def check_secondary_sidebar(page: Page, base: str) -> list[str]:
    """The contents toggle shows the page's sections (a desktop shows them beside the page); a link there
    scrolls to its section."""
    contents = "#pst-secondary-sidebar-modal[open]"
    if page.viewport_size["width"] >= 1200:  # type: ignore[index]
        contents = "#pst-secondary-sidebar"
        if not page.locator(contents).is_visible():
            return ["no contents beside the page on a desktop"]
    else:
        press(page, "button.secondary-toggle")
        try:
            page.locator(contents).wait_for(state="visible")
        except PlaywrightError:
            return ["the contents button did not open the page's contents"]
    links = page.locator(f"{contents} nav a.nav-link")
    if links.count() < 3:
        return [f"the contents list {links.count()} sections"]
    link = links.nth(links.count() - 2)
    anchor = link.get_attribute("href") or ""
    press(page, f'{contents} nav a.nav-link[href="{anchor}"]')
    page.wait_for_timeout(800)  # smooth scrolling
    top = page.evaluate("id => document.getElementById(id)?.getBoundingClientRect().top", anchor.lstrip("#"))
    if top is None or not -2 <= top <= page.viewport_size["height"] / 2:  # type: ignore[index]
        return [f"the contents link {anchor} left its section at y={top}"]
    return []


def check_search(page: Page, base: str) -> list[str]:
    """Ctrl+K and the search button open the search dialog; a query there lists pages about it."""
    problems = []
    dialog = page.locator("#pst-search-dialog[open]")
    page.keyboard.press("Control+k")
    try:
        dialog.wait_for(state="visible")
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")
    except PlaywrightError:
        problems.append("Ctrl+K did not open the search dialog")
    press(page, ".bd-header-article button.search-button, .bd-sidebar-primary button.search-button-field")
    try:
        dialog.wait_for(state="visible")
    except PlaywrightError:
        return [*problems, "the search button did not open the search dialog"]
    page.locator("#pst-search-dialog input[name=q]").fill("dilation")
    try:
        with page.expect_navigation(timeout=15_000):
            page.keyboard.press("Enter")
        page.locator("#search-results li a").first.wait_for(timeout=15_000)
    except PlaywrightError:
        return [*problems, f"the search for 'dilation' found nothing ({page.url})"]
    found = page.locator("#search-results li a").evaluate_all("as => as.map(a => a.href)")
    if not any("03-padding-stride-dilation" in u for u in found):
        problems.append(f"the search for 'dilation' did not find chapter 3: {found[:5]}")
    return problems


def check_theme_switch(page: Page, base: str) -> list[str]:
    """The switch changes the page's colours, and the next page keeps the reader's choice."""
    before = page.evaluate("document.documentElement.dataset.theme")
    for _ in range(2):  # it cycles auto, light, dark: one of the first two steps changes the colours
        press(page, "button.theme-switch-button")
        if page.evaluate("document.documentElement.dataset.theme") != before:
            break
    chosen = page.evaluate("[document.documentElement.dataset.mode, document.documentElement.dataset.theme]")
    if chosen[1] == before:
        return [f"the theme switch left the page {before}"]
    page.goto(base + "intro.html")
    kept = page.evaluate("[document.documentElement.dataset.mode, document.documentElement.dataset.theme]")
    return [] if kept == chosen else [f"the mode chosen, {chosen}, became {kept} on the next page"]


def check_download(page: Page, base: str) -> list[str]:
    """The download menu's .ipynb item serves this page's notebook."""
    press(page, ".dropdown-download-buttons button.dropdown-toggle")
    with page.context.expect_page() as opened:
        press(page, ".dropdown-download-buttons a.btn-download-source-button")
    tab = opened.value
    if not stays_on_the_machine(tab.url):  # page.request is Playwright's own client, which no route sees
        return [f"the download button leaves the machine: {tab.url}"]
    response = page.request.get(tab.url)
    tab.close()
    expected = path_of(page.url, base).removesuffix(".html") + ".ipynb"
    if not tab.url.endswith("_sources/" + expected) or not response.ok:
        return [f"the download button served {tab.url} (HTTP {response.status}), not {expected}"]
    try:
        notebook = json.loads(response.body())
    except ValueError:
        return [f"{tab.url} is not a notebook"]
    return [] if notebook.get("nbformat") == 4 and notebook.get("cells") else [f"{tab.url} is not a notebook"]


def check_show_code(page: Page, base: str) -> list[str]:
    """The "Show code cell source" toggle opens its cell, whose code then shows; a second press closes it."""
    toggle = "details.hide > summary"
    if page.locator(toggle).count() == 0:
        return ["no 'Show code cell' toggle on the page"]
    details = page.locator("details.hide").first
    details.scroll_into_view_if_needed()
    press(page, toggle)
    page.wait_for_timeout(300)
    shown = details.evaluate("d => d.open") and details.locator("pre").first.is_visible()
    if not shown:
        return ["'Show code cell source' did not show the code"]
    press(page, toggle)
    page.wait_for_timeout(300)
    return [] if not details.evaluate("d => d.open") else ["'Hide code cell source' did not hide the code"]


def check_neighbours(page: Page, base: str) -> list[str]:
    """The next link opens the next page of the table of contents, and that page's previous link comes back."""
    here = path_of(page.url, base)
    following = TOC[TOC.index(here) + 1]
    page.locator("a.right-next").scroll_into_view_if_needed()
    with page.expect_navigation():
        press(page, "a.right-next")
    problems = [] if path_of(page.url, base) == following else [f"next opened {page.url}, not {following}"]
    if page.locator("article h1").count() == 0:
        return [*problems, f"next opened a page without an article: {page.url}"]
    page.locator("a.left-prev").scroll_into_view_if_needed()
    with page.expect_navigation():
        press(page, "a.left-prev")
    return problems if path_of(page.url, base) == here else [*problems, f"previous opened {page.url}, not {here}"]


# Each control Tab must reach, by a selector for the focused element.
CONTROLS = {
    "☰": "button.primary-toggle",
    "search": "button.search-button, button.search-button-field",
    "theme switch": "button.theme-switch-button",
    "download": ".dropdown-download-buttons button.dropdown-toggle",
    "contents": "button.secondary-toggle",  # on a desktop the contents are beside the page: their links
    "show code": "details.hide > summary",
    "solution": "button.toggle-button",
    "next page": "a.right-next",
}
DESKTOP_CONTROLS = {**CONTROLS, "contents": "#pst-secondary-sidebar a.nav-link", "chapter list": "nav.bd-docs-nav a"}
FOCUS_JS = """sels => {
  const e = document.activeElement, s = getComputedStyle(e);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 1
    && !/rgba\\(.*, 0\\)$/.test(s.outlineColor);
  const ring = outline || (s.boxShadow && s.boxShadow !== "none");
  const r = e.getBoundingClientRect();
  return {names: Object.entries(sels).filter(([, sel]) => e.matches(sel)).map(([n]) => n), ring: !!ring,
          tag: e.tagName + (e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : ""),
          shown: r.width > 0 && r.height > 0};
}"""


def check_keyboard(page: Page, base: str) -> list[str]:
    """Tab alone reaches every control, each with a visible focus ring; Enter on ☰ opens the sidebar."""
    controls = CONTROLS if page.viewport_size["width"] < 1200 else DESKTOP_CONTROLS  # type: ignore[index]
    reached: dict[str, bool] = {}
    unringed = []
    for _ in range(800):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_JS, controls)
        if focus["shown"] and not focus["ring"]:
            unringed.append(focus["tag"])
        for name in focus["names"]:
            reached.setdefault(name, focus["ring"])
        if len(reached) == len(controls):
            break
    problems = [f"Tab never reaches {name}" for name in controls if name not in reached]
    problems += [f"{name} has no visible focus ring" for name, ring in reached.items() if not ring]
    problems += [f"focused without a visible ring: {sorted(set(unringed))[:5]}"] if unringed else []
    page.evaluate("() => document.activeElement.blur()")
    page.locator("button.primary-toggle").locator("visible=true").first.focus()
    page.keyboard.press("Enter")
    opened = (
        "#pst-primary-sidebar-modal[open]"
        if page.viewport_size["width"] < 992  # type: ignore[index]
        else "#pst-primary-sidebar.pst-sidebar-hidden"
    )
    try:
        page.locator(opened).wait_for(state="attached")
    except PlaywrightError:
        problems.append("Enter on ☰ did nothing")
    return problems


# Run in the page: how wide the page is, and the elements of the article that run past its column without
# scrolling in a box of their own (math's SVG internals aside).
WIDTH_JS = """() => {
  const article = document.querySelector("article.bd-article") || document.body;
  const right = article.getBoundingClientRect().right + 1;
  const scrolls = e => { for (let a = e.parentElement; a && a !== article; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX; if ((o === "auto" || o === "scroll")
        && a.getBoundingClientRect().right <= right) return true; } return false; };
  const over = [];
  for (const e of article.querySelectorAll("*")) {
    if (e.closest("svg, mjx-container, .MathJax")) continue;
    const r = e.getBoundingClientRect();
    if (r.width && r.right > right && !scrolls(e))
      over.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + [...e.classList].slice(0, 2).join("."));
  }
  return {page: document.documentElement.scrollWidth, view: innerWidth, over: [...new Set(over)].slice(0, 5)};
}"""


def check_width(page: Page, base: str) -> list[str]:
    """No sideways scrolling: the page fits the viewport, and the article's content its column."""
    width = page.evaluate(WIDTH_JS)
    problems = [f"{width['page']} px wide in a {width['view']} px window"] if width["page"] > width["view"] else []
    return problems + ([f"runs past the column: {width['over']}"] if width["over"] else [])


CHECKS: dict[str, Check] = {
    "primary sidebar": check_primary_sidebar,
    "secondary sidebar": check_secondary_sidebar,
    "search": check_search,
    "theme switch": check_theme_switch,
    "download": check_download,
    "show code": check_show_code,
    "next and previous": check_neighbours,
    "keyboard": check_keyboard,
    "width": check_width,
}


def run(
    browser: Browser, base: str, name: str, width: int, scheme: str, page_name: str = PAGE, **broken: str
) -> list[str]:
    """One check on one page, in a fresh profile; ``broken`` maps a page's path to the HTML served instead.

    Besides the check's own problems: every request it made for another machine (each blocked).
    """
    offline = Offline()
    with view(browser, offline, width, scheme) as context:
        for path, text in broken.items():
            context.route(base + path, answer_with(text))  # answered before the offline record: a local URL
        page = context.new_page()
        page.goto(base + page_name, wait_until="load")
        theme = page.evaluate("document.documentElement.dataset.theme")
        if theme != scheme:
            problems = [f"the page opened {theme} in a browser that prefers {scheme}"]
        else:
            try:
                problems = CHECKS[name](page, base)
            except PlaywrightError as error:
                problems = [f"{name}: {str(error).splitlines()[0]}"]
    return problems + [f"request leaves the machine: {url}" for url in offline.blocked]


def answer_with(text: str) -> Callable[[Route], None]:
    """A route handler that answers with ``text`` as an HTML page."""

    def answer(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=text)

    return answer


@pytest.mark.parametrize(("width", "scheme"), VIEWS, ids=[f"{w}px-{s}" for w, s in VIEWS])
@pytest.mark.parametrize("name", [n for n in CHECKS if n != "width"])
def test_control(browser: Browser, site: str, name: str, width: int, scheme: str) -> None:
    problems = run(browser, site, name, width, scheme)
    assert not problems, f"{name} at {width} px, {scheme}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_no_page_scrolls_sideways(browser: Browser, site: str, width: int) -> None:
    problems, offline = {}, Offline()
    with view(browser, offline, width, "light") as context:
        page = context.new_page()
        for name in list_pages(HTML):
            if name == "index.html":  # a redirect to intro.html
                continue
            page.goto(site + name, wait_until="load")
            if found := check_width(page, site):
                problems[name] = found
    assert not problems, f"at {width} px:\n  " + "\n  ".join(f"{n}: {p}" for n, p in problems.items())
    assert not offline.blocked, f"requests to another machine: {offline.blocked}"


# ------------------------------------------------------------------ the checks fail where they should

HIDDEN_HEADER = (  # today's defect: a hidden header whose toggles come first in the page
    '<header id="pst-header" hidden><button class="sidebar-toggle primary-toggle"></button>'
    '<button class="sidebar-toggle secondary-toggle"></button></header>'
)
WIDE = '<article class="bd-article"><div style="width: 1500px; height: 1px"></div>'  # a box wider than any column
BREAKS: dict[str, Callable[[str], str]] = {
    "primary sidebar": lambda t: re.sub(r"(<body[^>]*>)", r"\1" + HIDDEN_HEADER, t, count=1),
    "secondary sidebar": lambda t: re.sub(r"(<body[^>]*>)", r"\1" + HIDDEN_HEADER, t, count=1),
    "search": lambda t: t.replace('id="pst-search-dialog"', 'id="no-search-dialog"'),
    "theme switch": lambda t: t.replace("<head>", "<head><script>Storage.prototype.setItem = () => {};</script>", 1),
    "download": lambda t: re.sub(r'href="([^"]*_sources/[^"]*)\.ipynb"', r'href="\1-gone.ipynb"', t),
    "show code": lambda t: t.replace(
        "</body>", "<script>document.addEventListener('toggle', e => { e.target.open = false }, true)</script></body>"
    ),
    "next and previous": lambda t: re.sub(r'(<a class="right-next"\s+href=")[^"]*', r"\1gone.html", t),
    "keyboard": lambda t: t.replace(
        "</head>", "<style>:focus, :focus-visible { outline: none !important }</style></head>"
    ),
    "width": lambda t: t.replace('<article class="bd-article">', WIDE, 1),
}


# What each check must say about its broken page.
EXPECTED = {
    "primary sidebar": "☰ did not open the primary sidebar",
    "secondary sidebar": "the contents button did not open",
    "search": "did not open the search dialog",
    "theme switch": "on the next page",
    "download": "(HTTP 404)",
    "show code": "did not show the code",
    "next and previous": "next opened",
    "keyboard": "has no visible focus ring",
    "width": "runs past the column",
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_each_check_fails_on_a_broken_page(browser: Browser, site: str, name: str) -> None:
    text = (HTML / PAGE).read_text(encoding="utf-8")
    broken = BREAKS[name](text)
    assert broken != text, f"the break for {name} changed nothing"
    problems = run(browser, site, name, PHONE, "light", **{PAGE: broken})
    assert any(EXPECTED[name] in p for p in problems), f"the {name} check missed its broken control: {problems}"
