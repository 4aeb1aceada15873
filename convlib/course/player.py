"""A self-contained HTML/JS player for the frames of :mod:`convlib.course.animation`.

The static book has no kernel, so an animation must play on its own: :func:`animate` writes the
frames as JSON next to a small inline script that draws them on a ``<canvas>``. Nothing is fetched
from the network, and the element ids are a hash of the data, so equal arguments give byte-identical
HTML and a re-executed notebook does not change.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass

from convlib.course.animation import (
    COLORS,
    MAX_FRAMES,
    TAP_ALPHA,
    Canvas,
    cell_kinds,
    cell_names,
    frames,
    panel_labels,
    tap_labels,
)

#: The player's colours on a dark page, in the book's dark mode or JupyterLab's dark theme. They keep the hues of
#: :data:`~convlib.course.animation.COLORS`, with darker fills, a light kernel and light text. The explorer page
#: uses both palettes too (tests/test_explorer_cases.py checks).
DARK_COLORS = {"i": "#2f6690", "u": "#9a5b1f", "p": "#22272e", "z": "#3b424c", "tap": "#ffd166", "edge": "#7d8590",
               "done": "#2c5e38", "now": "#3d9b55", "todo": "#22272e", "text": "#e6edf3"}  # fmt: skip
LIGHT_TEXT = "#333333"
# On a dark page the Sphinx theme puts HTML outputs on a light card; the player draws its own dark cells instead.
_CARD = (
    'html[data-theme="dark"] .bd-content div.cell_output .text_html:has(> div[data-convlib-anim])'
    "{background-color:transparent;color:inherit;padding:0}"
)

# The player starts every animation on the page that has not started yet (so an animation shown twice,
# with the same id, still works) and draws the JSON frames of each on its canvas, in the page's colours:
# dark where the book's theme (data-theme on <html>) or JupyterLab (data-jp-theme-light on <body>) is dark,
# redrawn when the reader switches.
_PLAYER = """(function () {
  var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  function dark() {
    var b = document.body;
    return document.documentElement.getAttribute("data-theme") === "dark" ||
      (b !== null && b.getAttribute("data-jp-theme-light") === "false");
  }
  document.querySelectorAll("div[data-convlib-anim]:not([data-ready])").forEach(function (root) {
    root.setAttribute("data-ready", "1");
    var D = JSON.parse(root.querySelector("script[type='application/json']").textContent), K = D.colors.light;
    var cv = root.querySelector("canvas"), g = cv.getContext("2d"), C = D.cell, top = 18, H = D.canvas[0];
    var btn = root.querySelector("button"), bar = root.querySelector("input"), note = root.querySelector("span");
    var W = D.canvas[1], w = D.out[1], n = D.frames.length, dpr = window.devicePixelRatio || 1;
    var ox = (W + 2) * C, oy = top + (H - D.out[0]) * C / 2, cur = 0, hold = 0, timer = null;
    cv.width = D.size[0] * dpr; cv.height = D.size[1] * dpr; g.scale(dpr, dpr);
    function cell(x, y, fill, dashed) {
      g.fillStyle = fill; g.fillRect(x, y, C, C); g.setLineDash(dashed ? [3, 2] : []);
      g.strokeStyle = K.edge; g.lineWidth = 1; g.strokeRect(x + 0.5, y + 0.5, C - 1, C - 1);
    }
    function draw(t) {
      var f = D.frames[t], done = {}, r0 = H, c0 = W, r1 = 0, c1 = 0, q, o;
      K = dark() ? D.colors.dark : D.colors.light;
      root.querySelectorAll("[data-kind]").forEach(function (s) {
        s.style.background = K[s.getAttribute("data-kind")];
      });
      for (q = 0; q < t; q++) done[D.frames[q][0]] = 1;
      g.clearRect(0, 0, D.size[0], D.size[1]); g.fillStyle = K.text; g.font = "12px sans-serif";
      g.fillText(D.labels[0], 0, 12); g.fillText(D.labels[1], ox, oy - 6);
      for (q = 0; q < H * W; q++) cell(q % W * C, top + Math.floor(q / W) * C, K[D.kinds[q]], /[pz]/.test(D.kinds[q]));
      g.globalAlpha = D.alpha; g.fillStyle = K.tap;
      f[1].forEach(function (q) {
        var r = Math.floor(q / W), c = q % W; g.fillRect(c * C, top + r * C, C, C);
        r0 = Math.min(r0, r); c0 = Math.min(c0, c); r1 = Math.max(r1, r); c1 = Math.max(c1, c);
      });
      g.globalAlpha = 1; g.fillStyle = dark() ? "#000000" : "#ffffff"; g.textAlign = "center";
      g.font = Math.max(7, Math.round(C * 0.5)) + "px sans-serif";
      f[1].forEach(function (q, j) {
        g.fillText(D.taps[j], q % W * C + C / 2, top + Math.floor(q / W) * C + C * 0.7);
      });
      g.textAlign = "start"; g.setLineDash([]); g.lineWidth = 2; g.strokeStyle = K.tap;
      g.strokeRect(c0 * C + 1, top + r0 * C + 1, (c1 - c0 + 1) * C - 2, (r1 - r0 + 1) * C - 2);
      for (o = 0; o < D.out[0] * w; o++) {
        cell(ox + o % w * C, oy + Math.floor(o / w) * C, o === f[0] ? K.now : done[o] ? K.done : K.todo, false);
      }
      bar.value = t; note.textContent = "step " + (t + 1) + " / " + n; root.setAttribute("data-frame", t);
    }
    function tick() { if (cur < n - 1) cur++; else if (++hold > 2) { hold = 0; cur = 0; } draw(cur); }
    function play() { timer = setInterval(tick, D.interval); btn.textContent = "pause"; }
    function pause() { clearInterval(timer); timer = null; btn.textContent = "play"; }
    btn.onclick = function () { if (timer) pause(); else play(); };
    bar.oninput = function () { pause(); cur = +bar.value; draw(cur); };
    new MutationObserver(function () { draw(cur); }).observe(document.documentElement,
      {attributes: true, attributeFilter: ["data-theme"]});
    draw(0); if (!still) play();
  });
})();"""


@dataclass(frozen=True, repr=False)
class Animation:
    """The self-contained HTML of one animation; a notebook displays it through ``_repr_html_``."""

    html: str
    description: str
    n_frames: int

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:  # the text/plain output, used where HTML is not (PDF, terminal)
        return f"Animation({self.description}; {self.n_frames} frames, {len(self.html.encode())} bytes)"


def _swatch(kind: str, name: str, opacity: float = 1.0) -> str:
    """A legend entry in the light colours; the player recolours it (``data-kind``) on a dark page."""
    box = f"display:inline-block;width:0.9em;height:0.9em;background:{COLORS[kind]};opacity:{opacity}"
    return f'<span data-kind="{kind}" style="{box};border:1px solid #969696;vertical-align:middle"></span> {name}'


def animate(geom: Canvas, interval_ms: int = 700, input_name: str = "input") -> Animation:
    """An HTML/JS animation of the kernel sliding over the canvas while the output fills in.

    The player is inline (no external script, no network): it draws JSON frame data on a ``<canvas>``,
    plays on load (unless the reader prefers reduced motion), has play/pause and a step slider, and
    writes the step shown into ``data-frame``. Its colours follow the page: :data:`DARK_COLORS` where the
    book's theme or JupyterLab is dark, the figure's otherwise. Ids are a hash of the data, so equal
    arguments give byte-identical HTML.

    Args:
        geom: the geometry, with at most ``MAX_FRAMES`` output cells.
        interval_ms: milliseconds per step.
        input_name: what the canvas holds, in the legend and the panel titles
            (see :func:`convlib.course.animation.cell_names`).

    Returns:
        an :class:`Animation`, whose ``.html`` a notebook cell shows when it ends with the animation.

    Raises:
        ValueError: too many output cells, or a non-positive ``interval_ms``.

    >>> from convlib.course.animation import geometry
    >>> anim = animate(geometry(5, 3, padding=1)); anim.n_frames, "http" in anim.html  # 5x5 outputs
    (25, False)
    """
    steps, kinds = frames(geom), cell_kinds(geom)
    if len(steps) > MAX_FRAMES:
        raise ValueError(f"animate: geom has {len(steps)} output cells, more than MAX_FRAMES = {MAX_FRAMES}")
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms < 1:
        raise ValueError(f"animate: interval_ms must be a positive int, got {interval_ms!r}")
    (H, W), (h, w), n = geom.canvas_size, geom.output_size, len(steps)
    cell = max(8, min(26, 600 // (W + w + 2)))  # pixels per cell: a big grid shrinks to about 600 px
    size = [(W + w + 2) * cell, 18 + max(H, h) * cell + 2]
    data = json.dumps({
        "canvas": [H, W], "out": [h, w], "kinds": "".join(kinds), "alpha": TAP_ALPHA,
        "colors": {"light": COLORS | {"text": LIGHT_TEXT}, "dark": DARK_COLORS},
        "cell": cell, "size": size, "interval": interval_ms, "labels": panel_labels(geom, input_name),
        "taps": tap_labels(geom),
        "frames": [[f.output[0] * w + f.output[1], [r * W + c for r, c in f.taps]] for f in steps],
    }, separators=(",", ":"), sort_keys=True)  # fmt: skip
    uid, desc = hashlib.sha1(data.encode()).hexdigest()[:12], html.escape(geom.describe())
    legend = [_swatch(k, name) for k, name in cell_names(input_name).items() if k in "".join(kinds)]
    legend += [
        _swatch("tap", "kernel taps (letter: the kernel entry used, a, b, c, … row by row)", TAP_ALPHA),
        _swatch("done", "output written"),
        _swatch("now", "output now"),
    ]
    markup = (
        f'<div id="convlib-anim-{uid}" data-convlib-anim="{uid}" data-frame="0" data-frames="{n}" '
        f'style="font:13px sans-serif;margin:0.5em 0">\n<canvas width="{size[0]}" height="{size[1]}" '
        f'style="width:{size[0]}px;max-width:100%;height:auto" role="img" aria-label="{desc}"></canvas>\n'
        f'<div><button type="button">play</button> <input type="range" min="0" max="{n - 1}" value="0" '
        f'aria-label="step" style="vertical-align:middle;width:12em"> <span>step 1 / {n}</span></div>\n'
        f'<div><span style="opacity:0.8">{desc}</span><br>{" &nbsp; ".join(legend)}</div>\n'
        "<noscript>This animation needs JavaScript; the figure next to it shows its key steps.</noscript>\n"
        f'<script type="application/json">{data}</script>\n</div>\n'
        f"<style>{_CARD}</style>\n<script>\n{_PLAYER}\n</script>\n"
    )
    return Animation(markup, geom.describe(), n)
