"""Dumoulin & Visin-style pictures of a kernel sliding over a (padded) input, as frames, figure or animation.

A :class:`Canvas` fixes the sizes of one 2-D convolution or transposed convolution (torch's
semantics). The kernel slides over a *canvas*: for a convolution, the input with ``p`` zeros on each
side; for a transposed convolution, the input spread out by ``s - 1`` zeros between neighbours and
padded by ``d(k-1) - p`` per side plus ``output_padding`` at the bottom/right, where a stride-1
convolution with the *flipped* kernel computes the same result. :func:`frames` lists, per output cell,
the canvas cells under the kernel taps; :func:`plot_frames` draws a few of them for print, and
:func:`convlib.course.player.animate` plays them in the browser.
After Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from convlib import _validate as check
from convlib.shapes import conv_output_size, conv_transpose_output_size

Pair = tuple[int, int]
#: Colours of the figure and the player, by canvas kind (i input, u input never read, p padding,
#: z zero inserted between input cells, transposed only) and for the kernel and the output.
COLORS = {"i": "#9ecae1", "u": "#fdae6b", "p": "#ffffff", "z": "#e5e5e5", "tap": "#08306b",
          "edge": "#969696", "done": "#a1d99b", "now": "#31a354", "todo": "#ffffff"}  # fmt: skip
TAP_ALPHA = 0.6  # the kernel is see-through, so the kind of cell under each tap stays visible
MAX_FRAMES = 400  # a longer animation is too slow to watch and too big to embed


def cell_names(input_name: str = "input") -> dict[str, str]:
    """Legend names of the canvas kinds, with the input called ``input_name``.

    A transposed convolution that computes an input gradient reads the upstream gradient, and a chapter
    says so by passing ``input_name="upstream gradient"``.

    >>> cell_names("upstream gradient")["i"], cell_names()["u"]
    ('upstream gradient', 'input never read')
    """
    return {"i": input_name, "u": f"{input_name} never read", "p": "padding", "z": "inserted zero"}


NAMES = cell_names()  # the default legend: the canvas holds the input


@dataclass(frozen=True)
class Canvas:
    """Per-axis ``(H, W)`` sizes of one (transposed) convolution, and where its input sits on the canvas.

    Input cell ``a`` sits at canvas position ``offset + a * spacing``; output cell ``o`` reads the
    canvas at ``o * step + d * t`` for the kernel taps ``t = 0 .. k-1``.
    """

    transposed: bool
    input_size: Pair
    kernel_size: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    output_padding: Pair
    output_size: Pair
    canvas_size: Pair
    offset: Pair  # p; transposed: d(k-1) - p, where a negative value crops the spread input
    spacing: Pair  # 1; transposed: s
    step: Pair  # s; transposed: 1

    def input_at(self, cell: Pair) -> Pair | None:
        """The input cell at canvas ``cell``, or ``None`` for a padding or inserted zero."""
        index = [divmod(pos - off, sp) for pos, off, sp in zip(cell, self.offset, self.spacing)]
        if any(rest or not 0 <= a < n for (a, rest), n in zip(index, self.input_size)):
            return None
        return index[0][0], index[1][0]

    def describe(self) -> str:
        """One line with every hyper-parameter and the output size, for captions."""

        def fmt(name: str) -> str:
            pair = getattr(self, name)
            return f"{name} {pair[0] if pair[0] == pair[1] else pair}, "

        extra = fmt("output_padding") if self.transposed else ""
        (i, j), (k, l), (h, w) = self.input_size, self.kernel_size, self.output_size
        return (
            f"{'conv_transpose' if self.transposed else 'conv'}: input {i}×{j}, kernel {k}×{l}, "
            f"{fmt('stride')}{fmt('padding')}{extra}{fmt('dilation')[:-2]} → output {h}×{w}"
        )


def geometry(
    input_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    *,
    transposed: bool = False,
    output_padding: int | tuple[int, int] = 0,
) -> Canvas:
    """The geometry of ``conv2d``, or with ``transposed=True`` of ``conv_transpose2d``, as torch defines them.

    Args:
        input_size: ``i``, an int for a square input or ``(H, W)``; the other sizes likewise.
        kernel_size: ``k``.
        stride: ``s``; transposed: the direct convolution's stride, i.e. the input's spacing on the canvas.
        padding: ``p`` per side; transposed: the direct convolution's ``p`` (not Dumoulin & Visin's ``p'``).
        dilation: ``d``; 1 is a contiguous kernel.
        transposed: describe the transposed convolution.
        output_padding: transposed only: extra output rows/columns at the bottom/right.

    Returns:
        the :class:`Canvas`; ``output_size`` comes from :mod:`convlib.shapes`.

    Raises:
        ValueError: a non-positive size, stride or dilation, a negative padding, ``output_padding`` not
            below the stride or dilation, or an empty output; the message names the argument.

    Shapes:
        every field of the result is an ``(H, W)`` pair.

    >>> geometry(5, 3, stride=2, padding=1).output_size  # (5 + 2*1 - 1*(3-1) - 1)//2 + 1
    (3, 3)
    >>> g = geometry(3, 3, stride=2, transposed=True); g.output_size, g.offset  # (3-1)*2 + 2 + 1; d(k-1) - p
    ((7, 7), (2, 2))
    """
    op = "geometry"
    args = {"input_size": input_size, "kernel_size": kernel_size, "stride": stride, "padding": padding,
            "output_padding": output_padding, "dilation": dilation}  # fmt: skip
    pairs = {}
    for name, value in args.items():
        rule = check.non_negative if "padding" in name else check.positive
        pairs[name] = rule(check.ntuple(value, 2, name, op), name, op)
    i, k, s, p, o, d = (pairs[n] for n in args)
    if transposed:
        out = tuple(conv_transpose_output_size(*axis) for axis in zip(i, k, s, p, o, d))
    elif any(o):
        raise ValueError(f"{op}: output_padding needs transposed=True, got output_padding={o}")
    else:
        out = tuple(conv_output_size(*axis) for axis in zip(i, k, s, p, d))
    if min(out) < 1:
        raise ValueError(
            f"{op}: padding {p} and kernel_size {k} (dilation {d}) leave no output for "
            f"input_size {i}: the output size would be {out}"
        )
    span = [dd * (kk - 1) for dd, kk in zip(d, k)]  # how far the last tap reaches past the first
    canvas = [n + sp for n, sp in zip(out, span)] if transposed else [n + 2 * pp for n, pp in zip(i, p)]
    offset = [sp - pp for sp, pp in zip(span, p)] if transposed else p
    spacing, step = (s, (1, 1)) if transposed else ((1, 1), s)
    two = [(x[0], x[1]) for x in (i, k, s, p, d, o, out, canvas, offset, spacing, step)]
    return Canvas(transposed, *two)


@dataclass(frozen=True)
class Frame:
    """One step: the output cell written, and per kernel tap the canvas cell, weight and input cell.

    ``weights[j]`` is the kernel entry that multiplies ``taps[j]``: the tap itself for a convolution,
    the flipped tap for a transposed one. ``reads[j]`` is ``None`` on a padding or inserted zero.
    """

    output: Pair
    taps: tuple[Pair, ...]
    weights: tuple[Pair, ...]
    reads: tuple[Pair | None, ...]


def frames(geom: Canvas) -> list[Frame]:
    """Every step of the slide: one frame per output cell, in row-major order.

    Args:
        geom: from :func:`geometry`.

    Returns:
        ``H_out * W_out`` frames, each with ``kH * kW`` taps in row-major kernel order.

    >>> f = frames(geometry(5, 3, stride=2)); len(f), f[1].output, f[1].taps[:3]  # column 1 starts at 1*2
    (4, (0, 1), ((0, 2), (0, 3), (0, 4)))
    """
    (kh, kw), (dh, dw), (sh, sw) = geom.kernel_size, geom.dilation, geom.step
    kernel = [(a, b) for a in range(kh) for b in range(kw)]
    weights = tuple((kh - 1 - a, kw - 1 - b) if geom.transposed else (a, b) for a, b in kernel)
    result = []
    for r in range(geom.output_size[0]):
        for c in range(geom.output_size[1]):
            taps = tuple((r * sh + a * dh, c * sw + b * dw) for a, b in kernel)
            result.append(Frame((r, c), taps, weights, tuple(geom.input_at(t) for t in taps)))
    return result


def cell_kinds(geom: Canvas) -> list[str]:
    """The canvas as rows of letters: ``i`` input, ``u`` input never read, ``p`` padding, ``z`` inserted zero.

    Args:
        geom: the geometry.

    Returns:
        ``canvas_size[0]`` strings of ``canvas_size[1]`` letters.

    >>> cell_kinds(geometry(5, 2, stride=2))  # floor((5 - 2)/2) + 1 = 2 outputs read rows 0..3, never 4
    ['iiiiu', 'iiiiu', 'iiiiu', 'iiiiu', 'uuuuu']
    """
    read = {t for f in frames(geom) for t in f.taps}
    last = [(n - 1) * sp + off for n, sp, off in zip(geom.input_size, geom.spacing, geom.offset)]
    rows = []
    for r in range(geom.canvas_size[0]):
        row = ""
        for c in range(geom.canvas_size[1]):
            inside = all(off <= x <= end for x, off, end in zip((r, c), geom.offset, last))
            row += ("iu"[(r, c) not in read] if geom.input_at((r, c)) is not None else "z") if inside else "p"
        rows.append(row)
    return rows


def never_read(geom: Canvas) -> list[Pair]:
    """Input cells that no output depends on: the kernel's last position stops short of them.

    Args:
        geom: the geometry.

    Returns:
        the ``(row, col)`` input cells under no kernel tap, in row-major order.

    >>> len(never_read(geometry(6, 3, stride=2)))  # 2x2 outputs read rows/cols 0..4: 36 - 25 cells missed
    11
    """
    read = {a for f in frames(geom) for a in f.reads if a is not None}
    return [(r, c) for r in range(geom.input_size[0]) for c in range(geom.input_size[1]) if (r, c) not in read]


def tap_labels(geom: Canvas) -> list[str]:
    """Per tap of a frame (row-major window order), the name of the kernel entry it multiplies.

    Entries are named ``a, b, c, ...`` row by row in the kernel as stored (``"r,c"`` beyond 26 entries), so
    a transposed convolution's window, which multiplies the flipped kernel, reads them backwards.

    Args:
        geom: the geometry.

    Returns:
        ``kH * kW`` labels, in the order of ``Frame.taps``.

    >>> tap_labels(geometry(3, 2)), tap_labels(geometry(3, 2, transposed=True))  # the flip, visible
    (['a', 'b', 'c', 'd'], ['d', 'c', 'b', 'a'])
    """
    kw = geom.kernel_size[1]
    small = geom.kernel_size[0] * kw <= 26
    first = frames(geom)[0]
    return [chr(97 + a * kw + b) if small else f"{a},{b}" for a, b in first.weights]


def panel_labels(geom: Canvas, input_name: str = "input") -> list[str]:
    """The titles of the two panels: the canvas (what it holds) and the output."""
    padded = f"spread + padded {input_name}" if geom.transposed else f"padded {input_name}"
    return [padded if geom.transposed or any(geom.padding) else input_name, "output"]


def _draw(
    ax: Axes, geom: Canvas, kinds: list[str], steps: list[Frame], t: int, labels: list[str], panels: list[str]
) -> None:
    """One panel: the canvas with the kernel of step ``t`` on it, and the output filled so far."""
    (H, W), (h, w), f = geom.canvas_size, geom.output_size, steps[t]
    ox, oy = W + 1.5, (H - h) / 2  # the output sits right of the canvas, centred vertically
    for r, row in enumerate(kinds):
        for c, k in enumerate(row):
            dashed = "--" if k in "pz" else "-"  # zeros that are not input get a dashed outline
            ax.add_patch(Rectangle((c, r), 1, 1, fc=COLORS[k], ec=COLORS["edge"], lw=0.6, ls=dashed))
    for (r, c), label in zip(f.taps, labels):  # each tap names the kernel entry it multiplies
        ax.add_patch(Rectangle((c, r), 1, 1, fc=COLORS["tap"], alpha=TAP_ALPHA, lw=0))
        ax.text(c + 0.5, r + 0.55, label, ha="center", va="center", fontsize=7, color="white")
    (r0, c0), (r1, c1) = np.min(f.taps, axis=0), np.max(f.taps, axis=0)
    ax.add_patch(Rectangle((c0, r0), c1 - c0 + 1, r1 - r0 + 1, fill=False, ec=COLORS["tap"], lw=1.5))
    done = {s.output for s in steps[:t]}
    for r in range(h):
        for c in range(w):
            kind = "now" if (r, c) == f.output else "done" if (r, c) in done else "todo"
            ax.add_patch(Rectangle((ox + c, oy + r), 1, 1, fc=COLORS[kind], ec=COLORS["edge"], lw=0.6))
    for x, y, text in zip((0, ox), (-0.3, oy - 0.3), panels):
        ax.text(x, y, text, fontsize=8, va="bottom")
    ax.set(xlim=(-0.2, ox + w + 0.2), ylim=(max(H, h) + 0.2, -1.4), aspect="equal")
    ax.set_axis_off()
    ax.set_title(f"step {t + 1} of {len(steps)}: output {f.output}")


def plot_frames(geom: Canvas, steps: list[int] | None = None, size: float = 2.4, input_name: str = "input") -> Figure:
    """A static strip of key frames, for print, PDF and readers without JavaScript.

    Args:
        geom: the geometry.
        steps: the steps to draw, 0-based; ``None`` draws up to four, evenly spaced, first and last included.
        size: height of a panel in inches; its width follows the grids' aspect ratio.
        input_name: what the canvas holds, in the legend and the panel titles (see :func:`cell_names`).

    Returns:
        the figure, with one panel per step and a legend of the cell colours.

    Raises:
        ValueError: an empty ``steps``, or a step outside ``0 .. len(frames(geom)) - 1``.

    >>> fig = plot_frames(geometry(5, 3, padding=1)); len(fig.axes); plt.close(fig)  # steps 0, 8, 16, 24
    4
    """
    all_steps, kinds = frames(geom), cell_kinds(geom)
    n = len(all_steps)
    steps = sorted({round(x) for x in np.linspace(0, n - 1, min(4, n))}) if steps is None else list(steps)
    if not steps or any(not 0 <= t < n for t in steps):
        raise ValueError(f"plot_frames: steps must be non-empty and within 0..{n - 1}, got {steps}")
    (H, W), (h, w) = geom.canvas_size, geom.output_size
    aspect = (W + w + 1.9) / (max(H, h) + 1.6)
    fig, axes = plt.subplots(1, len(steps), figsize=(size * aspect * len(steps), size + 0.4), squeeze=False)
    labels = tap_labels(geom)
    for ax, t in zip(axes[0], steps):
        _draw(ax, geom, kinds, all_steps, t, labels, panel_labels(geom, input_name))
    present = set("".join(kinds))
    names = cell_names(input_name)
    handles = [Patch(fc=COLORS[k], ec=COLORS["edge"], label=name) for k, name in names.items() if k in present]
    handles += [
        Patch(fc=COLORS["tap"], alpha=TAP_ALPHA, label="kernel taps (letter: the kernel entry used)"),
        Patch(fc=COLORS["done"], ec=COLORS["edge"], label="output written"),
        Patch(fc=COLORS["now"], ec=COLORS["edge"], label="output now"),
    ]
    ncol = max(1, min(len(handles), int(fig.get_figwidth() / 1.3)))  # wrap the legend in a narrow figure
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False, fontsize=8)
    return fig
