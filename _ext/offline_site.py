"""Make the built book self-contained: it must render with no network.

A stock Jupyter Book 1 build reaches for a CDN in two places. Math is one: Sphinx points MathJax at a
CDN, and this book instead typesets its math at build time (``_ext/static_math.py``), so no page
loads MathJax at all. Thebe is the other, and this extension removes it: Jupyter Book always loads
``sphinx_thebe``, which puts the URL of thebe on unpkg.com into every page, to be fetched when a
reader starts live code. This course has thebe off (no launch button), so its scripts, stylesheet
and config block are dropped from every page.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx


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
    app.connect("html-page-context", drop_thebe_assets, priority=900)
    app.connect("doctree-resolved", drop_thebe_config, priority=900)  # after sphinx_thebe adds it
    return {"parallel_read_safe": True, "parallel_write_safe": True}
