"""Make every page of the built book light to load, accessible and described (issue #14).

A stock Jupyter Book 1 page loads about 4 MiB before it settles: FontAwesome's JavaScript (1.4 MiB,
to draw a dozen icons), the whole search index on every page, and every extension's CSS and JS,
most of them blocking the first paint. This extension changes, per page:

- **Icons.** FontAwesome's script is dropped. ``_static/icons.css`` draws exactly the icons the
  built pages use, as SVG masks taken from the theme's own copy of FontAwesome. The theme's CSS
  still draws a few icons from FontAwesome's fonts (admonitions, external links); those fonts
  (270 KiB) are cut down to the glyphs that CSS names.
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
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Any

import pydata_sphinx_theme
from docutils import nodes
from fontTools import subset
from PIL import Image
from sphinx.application import Sphinx
from sphinx.builders.html._assets import _JavaScript

TEMPLATES = Path(__file__).parent / "templates"
ICONS_CSS = "icons.css"
FONTAWESOME = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "scripts"
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
            scripts.append(_JavaScript(js.filename, priority=js.priority, **js.attributes, defer="defer"))
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


IMG = re.compile(r"<img\b([^>]*?)\s*/?>")


def sized_images(app: Sphinx, body: str) -> str:
    """Give every local image its pixel size; all but the first load lazily."""
    sources = {Path(name).name: Path(app.srcdir) / src for src, name in app.builder.images.items()}
    first = True

    def rewrite(match: re.Match[str]) -> str:
        nonlocal first
        attrs = match.group(1)
        src = re.search(r'\bsrc="([^"]+)"', attrs)
        path = sources.get(Path(src.group(1)).name) if src else None
        if path is not None and path.is_file() and "width=" not in attrs and "height=" not in attrs:
            width, height = pixel_size(path)
            attrs += f' width="{width}" height="{height}"'
        if "loading=" not in attrs and not first:
            attrs += ' loading="lazy" decoding="async"'
        first = False
        return f"<img{attrs} />"

    return IMG.sub(rewrite, body)


def lean_body(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if "body" not in context:
        return
    body = sized_images(app, context["body"])
    context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


# FontAwesome's script defines each icon pack as name: [width, height, [aliases], unicode, path].
ICON = re.compile(r'(?:"([^"]+)"|([A-Za-z0-9_$]+)):\[(\d+),(\d+),\[([^\]]*)\],"[0-9a-f]+","([^"]+)"\]')
PACK_END = re.compile(r'd\("(fab|far|fas)",p\)')
PACK_CLASSES = {"fab": ("fab", "fa-brands"), "far": ("far", "fa-regular"), "fas": ("fas", "fa-solid", "fa")}


@cache
def fontawesome_icons() -> dict[tuple[str, str], tuple[int, int, str]]:
    """(pack, name) -> (width, height, SVG path) for every icon in the theme's FontAwesome."""
    source = (FONTAWESOME / "fontawesome.js").read_text(encoding="utf-8")
    icons, start = {}, 0
    for end in PACK_END.finditer(source):
        for m in ICON.finditer(source, start, end.start()):
            width, height, path = int(m.group(3)), int(m.group(4)), m.group(6)
            for name in [m.group(1) or m.group(2), *re.findall(r'"([^"]+)"', m.group(5))]:
                icons[end.group(1), name] = (width, height, path)
        start = end.end()
    if not icons:
        raise RuntimeError(f"lean_site: no icons found in {FONTAWESOME / 'fontawesome.js'}")
    return icons


def icon_css(classes: set[tuple[str, ...]]) -> str:
    """CSS drawing each icon of ``classes`` (each an <i> element's class list) as an SVG mask."""
    icons, pack_of = fontawesome_icons(), {c: p for p, names in PACK_CLASSES.items() for c in names}
    rules = {}
    for class_list in classes:
        packs = [pack_of[c] for c in class_list if c in pack_of] or ["fas"]
        for name in (c.removeprefix("fa-") for c in class_list if c.startswith("fa-")):
            if (packs[0], name) in icons:
                width, height, path = icons[packs[0], name]
                svg = f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}'><path d='{path}'/></svg>"
                url = 'url("data:image/svg+xml,' + svg.replace("#", "%23").replace('"', "'") + '")'
                selector = ",".join(f".{c}.fa-{name}::before" for c in PACK_CLASSES[packs[0]])
                rules[selector] = (
                    f"{selector}{{width:{width / height:.4f}em;-webkit-mask-image:{url};mask-image:{url}}}"
                )
    shared = ",".join(sorted(rules))
    return (
        "/* Generated by _ext/lean_site.py: the FontAwesome icons these pages use, as SVG masks. */\n"
        f"{shared}{{content:'';display:inline-block;height:1em;vertical-align:-.125em;background-color:currentColor;"
        "-webkit-mask:no-repeat center/contain;mask:no-repeat center/contain}\n"
        + "\n".join(rules[s] for s in sorted(rules))
        + "\n"
    )


def write_icons(app: Sphinx, exc: Exception | None) -> None:
    """Write _static/icons.css for the icons used on every built page."""
    if exc is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    classes = set()
    for page in out.rglob("*.html"):
        for attr in re.findall(r'class="([^"]*\bfa-[^"]*)"', page.read_text(encoding="utf-8")):
            classes.add(tuple(attr.split()))
    (out / "_static" / ICONS_CSS).write_text(icon_css(classes), encoding="utf-8")


FA_RULE = re.compile(r"\s*\.fa-[\w-]+::?(before|after)\s*")  # one icon's own rule, drawn by icons.css now
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")  # where icon fonts keep their glyphs


def subset_icon_fonts(app: Sphinx, exc: Exception | None) -> None:
    """Cut FontAwesome's fonts down to the glyphs that the theme's CSS draws outside icon classes."""
    if exc is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    chars = set()
    for css in (static / "styles").glob("*.css"):
        for selectors, block in re.findall(r"([^{}]*)\{([^{}]*)\}", css.read_text(encoding="utf-8")):
            if not all(FA_RULE.fullmatch(s) for s in selectors.split(",")):
                chars.update(PRIVATE_USE.findall(block))
    options = subset.Options(flavor="woff2", layout_features=[], notdef_outline=True)
    for font_file in static.glob("vendor/fontawesome/webfonts/*.woff2"):
        font = subset.load_font(str(font_file), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[ord(c) for c in chars])
        subsetter.subset(font)
        subset.save_font(font, str(font_file), options)


REDIRECT = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)" />\s*')


def complete_redirect(app: Sphinx, exc: Exception | None) -> None:
    """Make the bare redirect that sphinx-external-toc writes as index.html a complete page."""
    index = Path(app.outdir) / "index.html"
    if exc is not None or app.builder.format != "html" or not index.is_file():
        return
    match = REDIRECT.fullmatch(index.read_text(encoding="utf-8"))
    if match is None:
        return
    target, project = html.escape(match.group(1)), html.escape(book_title(app))
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
    """Remove the <script> and <link> tags of a template block that load any of ``names``."""
    pattern = "|".join(re.escape(name) for name in names)
    return re.sub(rf"[ \t]*<(script|link)\b[^>]*({pattern})[^>]*>(</script>)?\n?", "", text)


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
