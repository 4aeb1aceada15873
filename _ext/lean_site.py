"""Make every page of the built book light to load, accessible and described (issue #14).

A stock Jupyter Book 1 page loads about 4 MiB before it settles: FontAwesome's JavaScript (1.4 MiB,
to draw a dozen icons), the whole search index on every page, and every extension's CSS and JS,
most of them blocking the first paint. This extension changes, per page:

- **Icons.** FontAwesome's script is dropped. ``_static/icons.css`` draws exactly the icons the
  built pages use, as SVG masks taken from the theme's own copy of FontAwesome. The theme's CSS
  still draws a few icons from FontAwesome's fonts (admonitions, external links); those fonts
  (270 KiB) are cut down to the glyphs that CSS names. Both are in ``lean_icons.py``.
- **Scripts.** The search index and its tools load only on the search page (the search box
  submits to it). Every other script is deferred, except ``documentation_options.js``, which the
  page's inline scripts read while the page is parsed, and those of the search page, whose
  template runs the search as the page is parsed.
- **Assets by need.** CSS and JS of a feature the page does not use (sphinx-design, exercises,
  copy buttons, toggles) are left out of that page.
- **Images.** Each figure gets its pixel ``width`` and ``height``, so nothing shifts when it
  arrives; all but the first load lazily and decode off the main thread.
- **Head.** A ``<meta name="description">`` from the page's opening sentences.
- **The root.** sphinx-external-toc writes ``index.html`` as a bare ``<meta>`` redirect to the
  intro; it becomes a complete page (language, title, description, favicon, a link to follow).
- **ARIA.** docutils marks bibliography entries ``role="doc-biblioentry"``, a role ARIA 1.2
  deprecated and that a ``role="list"`` may not contain; they become list items.

Rendered HTML is read with a parser and only the tags that change are rewritten (``html_tags.py``);
the regular expressions left here read text, not markup: TeX in a description, sentence ends.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Any

from docutils import nodes
from html_tags import Tag, splice, start_tags
from lean_icons import ICONS_CSS, fontawesome_icons, subset_icon_fonts, write_icons
from PIL import Image
from sphinx.application import Sphinx

TEMPLATES = Path(__file__).parent / "templates"
# Assets a page needs only when its body contains the marker.
BY_NEED = {
    "math.css": "<mjx-container",
    "sphinx-design.min.css": 'class="sd-',
    "design-tabs.js": 'class="sd-tab',
    "exercise.css": "exercise",
    "togglebutton.css": "dropdown",
    "togglebutton.js": "dropdown",
    "copybutton.css": 'class="highlight',
    "copybutton.js": 'class="highlight',
    "clipboard.min.js": 'class="highlight',
}
DESCRIPTION_CHARS = 160


def needed(filename: str, body: str) -> bool:
    """Whether a page with this body needs the asset (assets not in BY_NEED always are)."""
    name = Path(filename).name
    return next((marker in body for key, marker in BY_NEED.items() if name == key), True)


def lean_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Per page: drop unneeded CSS and JS, and defer every script the inline ones do not read."""
    body = context.get("body", "")
    context["css_files"] = [css for css in context.get("css_files", []) if needed(css.filename, body)]
    scripts = []
    for js in context.get("script_files", []):
        if js.filename and not needed(js.filename, body):
            continue
        inline_or_read = not js.filename or Path(js.filename).name == "documentation_options.js"
        # search.html's own template runs searchtools.js as the page is parsed, and it needs doctools.js
        if inline_or_read or pagename == "search" or "defer" in js.attributes or "async" in js.attributes:
            scripts.append(js)
        else:
            # a deferred copy: Sphinx's class for a script is private, so take it from the script itself
            scripts.append(type(js)(js.filename, priority=js.priority, **js.attributes, defer="defer"))
    context["script_files"] = scripts


def plain(text: nodes.Text) -> str:
    """A text node as a reader would read it aloud: TeX in math loses its markup (C_\\text{in} -> C_in)."""
    if not isinstance(text.parent, nodes.math):
        return str(text)
    tex = re.sub(r"\\(?:text|mathrm|mathbf|operatorname)\{([^}]*)\}", r"\1", str(text))
    return re.sub(r"\\([A-Za-z]+)", lambda m: {"times": "×", "cdot": "·", "le": "≤", "ge": "≥"}.get(m[1], m[1]), tex)


def describe(doctree: nodes.document | None, fallback: str) -> str:
    """The page's opening sentences: its first paragraph, cut at a sentence end within the limit."""
    for para in doctree.findall(nodes.paragraph) if doctree is not None else ():
        text = " ".join("".join(plain(part) for part in para.findall(nodes.Text)).split())
        if len(text) >= 40:
            break
    else:
        return fallback
    if len(text) <= DESCRIPTION_CHARS:
        return text
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", text[: DESCRIPTION_CHARS + 1])]
    return text[: ends[-1]] if ends else text[: DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"


def book_title(app: Sphinx) -> str:
    """The book's title (Jupyter Book sets Sphinx's html_title from _config.yml, not its project)."""
    return str(app.config.html_title or app.config.project)


def add_description(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    book = book_title(app)
    fallback = {
        "genindex": f"The index of {book}: every term, function and class, with the pages that explain it.",
        "search": f"Search {book}, a course on convolution in deep learning.",
        "py-modindex": f"The modules of convlib, the small library behind every chapter of {book}.",
    }.get(pagename, f"{book}, a course on convolution in deep learning.")
    text = describe(doctree, fallback)
    context["metatags"] = context.get("metatags", "") + f'\n<meta name="description" content="{html.escape(text)}" />'


@cache
def pixel_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def sized_image(tag: Tag, sources: dict[str, Path], lazy: bool) -> str:
    """An ``<img>`` tag with its pixel size (a local image without one) and, if ``lazy``, lazy loading.

    Args:
        tag: the image's start tag.
        sources: file name -> the image's source file, for the images Sphinx copies into ``_images``.
        lazy: load the image lazily (every image of a page but the first).

    Returns:
        the tag's new text, its attributes as written and the new ones after them, closed by ``" />"``.

    Shapes:
        not applicable.
    """
    attrs = tag.text[1 + len(tag.name) : -1].removesuffix("/").rstrip()  # between "<img" and "/>", as written
    path = sources.get(Path(tag.attrs.get("src") or "").name)
    if path is not None and path.is_file() and "width" not in tag.attrs and "height" not in tag.attrs:
        width, height = pixel_size(path)
        attrs += f' width="{width}" height="{height}"'
    if lazy and "loading" not in tag.attrs:
        attrs += ' loading="lazy" decoding="async"'
    return f"<{tag.name}{attrs} />"


def lean_body(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Per page: every image sized and all but the first lazy; bibliography entries become list items."""
    if "body" not in context:
        return
    sources = {Path(name).name: Path(app.srcdir) / src for src, name in app.builder.images.items()}
    changes, images = [], 0
    for tag in start_tags(context["body"]):
        text = tag.text
        if tag.name == "img":
            text, images = sized_image(tag, sources, lazy=images > 0), images + 1
        if tag.attrs.get("role") == "doc-biblioentry":
            text = text.replace('role="doc-biblioentry"', 'role="listitem"')
        if text != tag.text:
            changes.append((tag.start, tag.end, text))
    context["body"] = splice(context["body"], changes)


REFRESH = "0; url="  # sphinx-external-toc's redirect: <meta http-equiv="Refresh" content="0; url=intro.html" />


def complete_redirect(app: Sphinx, exc: Exception | None) -> None:
    """Make the bare redirect that sphinx-external-toc writes as index.html a complete page."""
    index = Path(app.outdir) / "index.html"
    if exc is not None or app.builder.format != "html" or not index.is_file():
        return
    text = index.read_text(encoding="utf-8")
    tags = start_tags(text)
    if len(tags) != 1 or text[: tags[0].start].strip() or text[tags[0].end :].strip():
        return  # not a bare redirect: a complete page already
    meta, content = tags[0], tags[0].attrs.get("content") or ""
    if meta.name != "meta" or meta.attrs.get("http-equiv") != "Refresh" or not content.startswith(REFRESH):
        return
    target, project = html.escape(content.removeprefix(REFRESH)), html.escape(book_title(app))
    index.write_text(
        f"""<!DOCTYPE html>
<html lang="{app.config.language or "en"}">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>{project}</title>
  <meta name="description" content="{project}: the course starts at its introduction." />
  <link rel="canonical" href="{target}" />
  <link rel="icon" href="_static/{Path(app.config.html_favicon or "favicon.svg").name}" />
  <meta http-equiv="refresh" content="0; url={target}" />
</head>
<body><p><a href="{target}">{project}</a></p></body>
</html>
""",
        encoding="utf-8",
    )


def drop_tags(text: str, *names: str) -> str:
    """Remove the <script> and <link> tags of a template block that load any of ``names``, with their lines."""
    text, changes = str(text), []  # a template block comes as Markup
    for tag in start_tags(text):
        source = tag.attrs.get("src") or tag.attrs.get("href") or ""
        if tag.name in ("script", "link") and any(name in source for name in names):
            start = len(text[: tag.start].rstrip(" \t"))  # the tag's indentation goes too
            stop = tag.close + text.startswith("\n", tag.close)  # and its line's end
            changes.append((start, stop, ""))
    return splice(text, changes)


def add_templates(app: Sphinx, config: Any) -> None:
    config.templates_path = [str(TEMPLATES), *config.templates_path]


def add_filters(app: Sphinx) -> None:
    if app.builder.format == "html":
        app.builder.templates.environment.filters["drop_tags"] = drop_tags


def setup(app: Sphinx) -> dict[str, object]:
    fontawesome_icons()  # fail at start-up, not at the end of a long build
    app.add_css_file(ICONS_CSS)
    app.connect("config-inited", add_templates)
    app.connect("builder-inited", add_filters)
    app.connect("html-page-context", lean_assets, priority=900)
    app.connect("html-page-context", add_description, priority=900)
    app.connect("html-page-context", lean_body, priority=900)
    app.connect("build-finished", write_icons)
    app.connect("build-finished", subset_icon_fonts)
    app.connect("build-finished", complete_redirect, priority=900)  # after sphinx-external-toc writes it
    return {"parallel_read_safe": True, "parallel_write_safe": True}
