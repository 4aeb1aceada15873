"""A 1-D kernel sliding along a signal, drawn with its numbers: cross-correlation and convolution side by side.

:func:`sliding_steps` lists, for every valid output, which signal values the kernel covers and which
weight multiplies each; :func:`plot_sliding` draws a few of those steps, one row each, with the
products and the sum written out. For cross-correlation the kernel is laid over the signal as it is;
for convolution it is laid over *flipped*, which is the whole difference between the two
(``(x * w)_i = sum_j x_{i-j} w_j``). Colours follow :mod:`convlib.course.animation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convlib.course.animation import COLORS


@dataclass(frozen=True)
class Step:
    """One valid output of a 1-D correlation or convolution."""

    output: int  # index of the output, 0 .. n - k
    inputs: tuple[int, ...]  # signal indices under the kernel, left to right
    weights: tuple[float, ...]  # the weight laid over each of those indices
    value: float  # sum of the products


def sliding_steps(x: Sequence[float], w: Sequence[float], flip: bool = False) -> list[Step]:
    """Every valid position of the kernel on the signal, with the weight over each covered value.

    Args:
        x: the signal, length n.
        w: the kernel, length k <= n.
        flip: lay the kernel over reversed, which gives the true convolution ``x * w`` instead of
            the cross-correlation ``x ⋆ w``.

    Returns:
        n - k + 1 steps; ``[s.value for s in steps]`` equals ``np.correlate(x, w, "valid")``, or
        ``np.convolve(x, w, "valid")`` with ``flip=True``.

    Raises:
        ValueError: an empty kernel, or a kernel longer than the signal.

    Shapes:
        x (n,), w (k,) -> n - k + 1 steps.

    >>> [s.value for s in sliding_steps([1, 2, 3, 4], [1, 0, -1])]  # 1*1 + 2*0 + 3*(-1), ...
    [-2.0, -2.0]
    >>> sliding_steps([1, 2, 3, 4], [1, 0, -1], flip=True)[0].weights  # the kernel reversed
    (-1.0, 0.0, 1.0)
    """
    n, k = len(x), len(w)
    if k == 0 or k > n:
        raise ValueError(f"sliding_steps: w must have 1 to len(x) = {n} entries, got {k}")
    laid = [float(v) for v in (reversed(w) if flip else w)]  # the weight over the j-th covered cell
    steps = []
    for i in range(n - k + 1):
        inputs = tuple(range(i, i + k))
        value = sum(float(x[m]) * v for m, v in zip(inputs, laid))
        steps.append(Step(i, inputs, tuple(laid), value))
    return steps


def _number(v: float) -> str:
    return f"{v:g}"


def _draw_step(ax: Axes, x: Sequence[float], step: Step, y: float) -> None:
    """One row: the signal, the kernel under its window, and the sum written out to the right."""
    for m, v in enumerate(x):
        covered = m in step.inputs
        ax.add_patch(Rectangle((m, y), 1, 1, fc=COLORS["i"], ec=COLORS["edge"], lw=0.8 if covered else 0.5))
        ax.text(m + 0.5, y + 0.5, _number(v), ha="center", va="center", fontsize=9)
    for m, v in zip(step.inputs, step.weights):  # the kernel, one cell below the values it multiplies
        ax.add_patch(Rectangle((m, y - 1), 1, 1, fc=COLORS["tap"], alpha=0.75, ec="white", lw=0.8))
        ax.text(m + 0.5, y - 0.5, _number(v), ha="center", va="center", fontsize=9, color="white")
    products = " + ".join(f"{_number(x[m])}·{_number(v)}" for m, v in zip(step.inputs, step.weights))
    ax.text(len(x) + 0.4, y - 0.0, f"output {step.output}: {products} = {_number(step.value)}", va="center", fontsize=9)


def plot_sliding(
    x: Sequence[float], w: Sequence[float], flip: bool = False, outputs: Sequence[int] | None = None, size: float = 0.45
) -> Figure:
    """Draw the kernel over the signal at a few positions, with every product and sum written out.

    Args:
        x: the signal.
        w: the kernel, as stored (not flipped).
        flip: draw the true convolution, with the kernel laid over reversed.
        outputs: which valid outputs to draw (0-based); ``None`` draws all of them.
        size: inches per cell.

    Returns:
        the figure, one row per drawn output.

    Raises:
        ValueError: an output index outside ``0 .. n - k``, or an empty ``outputs``.

    Shapes:
        x (n,), w (k,).

    >>> fig = plot_sliding([1, 2, 3, 4], [1, 0, -1]); len(fig.axes[0].patches); plt.close(fig)  # 2 x (4 + 3)
    14
    """
    steps = sliding_steps(x, w, flip)
    chosen = list(range(len(steps))) if outputs is None else list(outputs)
    if not chosen or any(not 0 <= i < len(steps) for i in chosen):
        raise ValueError(f"plot_sliding: outputs must be non-empty and within 0..{len(steps) - 1}, got {chosen}")
    rows = len(chosen)
    fig, ax = plt.subplots(figsize=(size * (len(x) + 10), size * 2.6 * rows + 0.4))
    for r, i in enumerate(chosen):
        _draw_step(ax, x, steps[i], y=-2.6 * r)
    title = (
        "convolution x * w: the kernel laid over flipped" if flip else "cross-correlation x ⋆ w: the kernel as stored"
    )
    ax.set_title(title, fontsize=10, loc="left")
    ax.set(xlim=(-0.2, len(x) + 9.5), ylim=(-2.6 * (rows - 1) - 1.3, 1.3), aspect="equal")
    ax.set_axis_off()
    return fig
