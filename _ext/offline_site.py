"""Make the built book self-contained: it must render, maths included, with no network.

Two things in a stock Jupyter Book 1 build reach for a CDN, and this extension removes both:

1. **MathJax.** Sphinx points ``mathjax_path`` at a CDN. We serve MathJax 3 from ``_static/mathjax``
   instead, copied from the pinned ``sphinx-mathjax-offline`` package. That package ships the whole
   distribution (24 MB); we copy only what ``tex-chtml.js`` loads: the combined component, its web
   fonts, the TeX extensions that ``autoload`` fetches on demand (``\\color``, ``\\cancel``, ...)
   and the menu and accessibility components.
2. **Thebe.** Jupyter Book always loads ``sphinx_thebe``, which puts the URL of thebe on unpkg.com
   into every page, to be fetched when a reader starts live code. This course has thebe off (no
   launch button), so its scripts, stylesheet and config block are dropped from every page.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.fileutil import copy_asset

MATHJAX_ENTRY = "tex-chtml.js"
MATHJAX_PARTS = (MATHJAX_ENTRY, "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")


def mathjax_root() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("offline_site: the package sphinx-mathjax-offline is not installed")
    return Path(spec.origin).parent / "static" / "mathjax"


def copy_mathjax(app: Sphinx, exc: Exception | None) -> None:
    if exc is not None or app.builder.format != "html":
        return
    source, target = mathjax_root(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        dest = target / part
        if (source / part).is_dir():
            copy_asset(str(source / part), str(dest))
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            copy_asset(str(source / part), str(dest.parent))


def _is_thebe(asset: Any) -> bool:
    text = f"{getattr(asset, 'filename', '') or ''} {getattr(asset, 'attributes', {}).get('body', '')}"
    return "thebe" in text.lower()


def drop_thebe_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def drop_thebe_config(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(nodes.raw)):
        if "x-thebe-config" in node.astext():
            node.parent.remove(node)


def setup(app: Sphinx) -> dict[str, object]:
    mathjax_root()  # fail at start-up, not at the end of a long build
    app.config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", drop_thebe_assets, priority=900)
    app.connect("doctree-resolved", drop_thebe_config, priority=900)  # after sphinx_thebe adds it
    return {"parallel_read_safe": True, "parallel_write_safe": True}
