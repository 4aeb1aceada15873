"""Let the book build as one HTML page (``jupyter-book build . --builder singlehtml``), which tools/pdf.py prints.

Sphinx gives a translator the visitors registered for its builder's *name* and falls back to its *format*
("html") only when no extension registered any for the name. Several do for "singlehtml", so the nodes that
other extensions registered for "html" alone (sphinx-jupyterbook-latex's ``HiddenCellNode``, which it puts in
place of hidden cells in a single-page build) have no visitor there, and the build stops with "unknown node
type". This copies every "html" visitor that "singlehtml" lacks.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def share_html_visitors(app: Sphinx) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node, visitors in handlers.get("html", {}).items():
        single.setdefault(node, visitors)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", share_html_visitors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
