"""Golden cases for the book's interactive explorer page, computed by :mod:`convlib.course.animation`.

The explorer (``explorer.md``) redraws a (transposed) convolution in JavaScript from the parameters in
its URL fragment, e.g. ``#op=conv&i=7&k=3&s=2&p=1&d=1``. Its geometry must be the same as
:func:`~convlib.course.animation.geometry` and :func:`~convlib.course.animation.frames`, so this module
lists, over a grid of parameters, what the page must show: the output size, the canvas, the kind of every
canvas cell and the canvas cells under the kernel at every step. A browser test opens the built page
with each case's fragment and compares (``tests/test_explorer.py``).

A 1-D case is the 2-D geometry of a ``1 x i`` input with a ``1 x k`` kernel; canvas cells are numbered
row-major, ``r * W + c``, so in 1-D a tap's number is its position.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from convlib.course.animation import Canvas, cell_kinds, frames, geometry

#: The explorer's defaults, which a missing fragment key takes.
DEFAULTS = {"op": "conv", "dim": 2, "i": 7, "k": 3, "s": 2, "p": 1, "d": 1, "op_pad": 0}
#: The parameter grid of :func:`golden_cases`: fitting and non-fitting kernels, every stride and dilation
#: pattern, padding that crops a transposed output away, and ``output_padding`` in and out of range.
GRID: dict[str, tuple[int, ...]] = {
    "dim": (1, 2),
    "i": (1, 3, 5),
    "k": (1, 3, 4),
    "s": (1, 2, 3),
    "p": (0, 2),
    "d": (1, 2),
    "op_pad": (0, 1, 2),
}


@dataclass(frozen=True)
class GoldenCase:
    """What the explorer must display for one URL fragment.

    ``error`` is ``""`` for a valid case, ``"fit"`` when there is no output (the kernel does not fit,
    or a transposed convolution's padding crops everything), and ``"output_padding"`` when
    ``output_padding`` is not below ``max(stride, dilation)``. Sizes are written as the page writes
    them: ``"3"`` in 1-D, ``"3x3"`` in 2-D, ``"none"`` without an output.
    """

    fragment: str
    error: str
    output_size: str
    canvas_size: str
    kinds: str  # cell_kinds, rows joined by "/"
    taps: tuple[tuple[int, ...], ...]  # per output cell (row-major): the canvas cells r * W + c under the kernel


def _size(pair: tuple[int, int], dim: int) -> str:
    return str(pair[1]) if dim == 1 else f"{pair[0]}x{pair[1]}"


def explorer_geometry(op: str, dim: int, i: int, k: int, s: int, p: int, d: int, op_pad: int) -> Canvas:
    """The :class:`~convlib.course.animation.Canvas` that the explorer draws for these parameters.

    Args:
        op: ``"conv"`` or ``"transpose"``.
        dim: 1 (a ``1 x i`` input) or 2 (an ``i x i`` input).
        i, k, s, p, d: input size, kernel size, stride, padding and dilation, equal on both axes in 2-D.
        op_pad: ``output_padding``; only for ``op="transpose"``.

    Returns:
        the geometry, as :func:`~convlib.course.animation.geometry` computes it.

    Raises:
        ValueError: a bad ``op`` or ``dim``, or any error of :func:`~convlib.course.animation.geometry`.

    Shapes:
        every field of the result is an ``(H, W)`` pair, with ``H = 1`` in 1-D.

    >>> explorer_geometry("conv", 1, 7, 3, 2, 1, 1, 0).output_size  # floor((7 + 2 - 2 - 1)/2) + 1 = 4
    (1, 4)
    """
    if op not in ("conv", "transpose"):
        raise ValueError(f"explorer_geometry: op must be 'conv' or 'transpose', got {op!r}")
    if dim not in (1, 2):
        raise ValueError(f"explorer_geometry: dim must be 1 or 2, got {dim!r}")
    if dim == 1:  # the extra row is a size-1 axis with a size-1 kernel: it adds nothing
        one = (1, i), (1, k), (1, s), (0, p), (1, d)
        return geometry(*one, transposed=op == "transpose", output_padding=(0, op_pad))
    return geometry(i, k, s, p, d, transposed=op == "transpose", output_padding=op_pad)


def golden_case(op: str, dim: int, i: int, k: int, s: int, p: int, d: int, op_pad: int = 0) -> GoldenCase:
    """The :class:`GoldenCase` for one setting of the explorer.

    Args:
        op, dim, i, k, s, p, d, op_pad: as :func:`explorer_geometry`; all sizes positive and
            ``p, op_pad >= 0``, so the only possible errors are a missing output and ``output_padding``.

    Returns:
        the case, with its URL fragment (keys in the order ``op dim i k s p d`` and ``op_pad`` for a
        transposed convolution).

    >>> c = golden_case("conv", 1, 5, 3, 2, 0, 1); c.fragment, c.output_size, c.taps  # outputs at 0, 2
    ('op=conv&dim=1&i=5&k=3&s=2&p=0&d=1', '2', ((0, 1, 2), (2, 3, 4)))
    >>> golden_case("transpose", 2, 3, 3, 2, 1, 1, op_pad=2).error  # output_padding must be < 2
    'output_padding'
    """
    fragment = f"op={op}&dim={dim}&i={i}&k={k}&s={s}&p={p}&d={d}" + (f"&op_pad={op_pad}" if op == "transpose" else "")
    if op == "transpose" and not op_pad < max(s, d):  # torch's rule, checked first as the page does
        return GoldenCase(fragment, "output_padding", "none", "none", "", ())
    try:
        g = explorer_geometry(op, dim, i, k, s, p, d, op_pad)
    except ValueError:  # geometry's only other complaint for valid values: no output
        return GoldenCase(fragment, "fit", "none", "none", "", ())
    width = g.canvas_size[1]
    taps = tuple(tuple(r * width + c for r, c in f.taps) for f in frames(g))
    return GoldenCase(fragment, "", _size(g.output_size, dim), _size(g.canvas_size, dim), "/".join(cell_kinds(g)), taps)


def golden_cases(grid: Mapping[str, Iterable[int]] | None = None) -> list[GoldenCase]:
    """Every case of a parameter grid, convolutions and transposed convolutions, valid or not.

    Args:
        grid: values per key ``dim i k s p d op_pad`` (default :data:`GRID`); ``op_pad`` applies to
            transposed convolutions only.

    Returns:
        the cases, convolutions first, in grid order, without duplicates.

    Raises:
        ValueError: ``grid`` misses a key.

    >>> cases = golden_cases(); len(cases), sum(c.error == "" for c in cases)  # 216 conv + 648 transposed
    (864, 582)
    """
    values: Mapping[str, Iterable[int]] = GRID if grid is None else grid
    missing = set(GRID) - set(values)
    if missing:
        raise ValueError(f"golden_cases: grid misses the keys {sorted(missing)}")
    base = list(itertools.product(*(values[key] for key in ("dim", "i", "k", "s", "p", "d"))))
    op_pads = list(values["op_pad"])
    cases = [golden_case("conv", dim, i, k, s, p, d) for dim, i, k, s, p, d in base]
    cases += [golden_case("transpose", dim, i, k, s, p, d, o) for dim, i, k, s, p, d in base for o in op_pads]
    return list(dict.fromkeys(cases))
