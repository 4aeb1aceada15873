"""Figure helpers with the course's one style.

Pixel grids use ``interpolation="nearest"``; kernels and signed feature maps use a symmetric
diverging colormap (``vmin = -vmax``), so zero is always white and the sign is readable.
Every function takes an explicit size, because a figure's size is part of its stored output.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

#: Diverging colormap for signed values (blue negative, white zero, red positive).
SIGNED_CMAP = "RdBu_r"
#: Sequential colormap for all-positive values such as counts and magnitudes; white is zero, dark is large.
POSITIVE_CMAP = "Reds"

ArrayLike = torch.Tensor | np.ndarray


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def subplots(nrows: int = 1, ncols: int = 1, size: float = 2.4) -> tuple[Figure, np.ndarray]:
    """Create a grid of axes, each ``size`` inches square, with axis ticks off.

    Args:
        nrows: rows of panels.
        ncols: columns of panels.
        size: edge of one panel, in inches.

    Returns:
        the figure and a 2-D array of axes, shape (nrows, ncols).

    >>> fig, axes = subplots(2, 3); axes.shape; plt.close(fig)
    (2, 3)
    """
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes


def show_image(img: ArrayLike, ax: Axes | None = None, title: str | None = None) -> AxesImage:
    """Show an image tensor in [0, 1]: (C, H, W) with C in {1, 3}, or (H, W).

    Args:
        img: the image; values are clipped to [0, 1].
        ax: axes to draw into; a new 3-inch figure if ``None``.
        title: optional panel title.

    Returns:
        the ``AxesImage``.

    Shapes:
        (C, H, W) or (H, W)

    >>> im = show_image(torch.zeros(3, 4, 4)); im.get_array().shape; plt.close("all")
    (4, 4, 3)
    """
    a = _to_numpy(img)
    if a.ndim == 3:
        if a.shape[0] not in (1, 3):
            raise ValueError(f"show_image: img must have 1 or 3 channels, got shape {a.shape}")
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    elif a.ndim != 2:
        raise ValueError(f"show_image: img must be (C, H, W) or (H, W), got shape {a.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.imshow(np.clip(a, 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def show_signed(
    x: ArrayLike,
    ax: Axes | None = None,
    title: str | None = None,
    vmax: float | None = None,
    annotate: bool = False,
    fmt: str = ".2g",
) -> AxesImage:
    """Show a signed 2-D map (kernel, feature map) with a symmetric diverging colormap.

    Args:
        x: the map, shape (H, W).
        ax: axes to draw into; a new 3-inch figure if ``None``.
        title: optional panel title.
        vmax: colour limit; ``None`` uses ``max |x|`` so that zero is white.
        annotate: write each value in its cell (for small kernels).
        fmt: format of the annotations, e.g. ``".2f"`` or ``"d"`` (after rounding) for integers.

    Returns:
        the ``AxesImage``.

    Shapes:
        (H, W)

    >>> im = show_signed(torch.tensor([[-1.0, 2.0]])); im.get_clim(); plt.close("all")
    (-2.0, 2.0)
    """
    a = _to_numpy(x)
    if a.ndim != 2:
        raise ValueError(f"show_signed: x must be 2-D (H, W), got shape {a.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    lim = float(np.abs(a).max()) if vmax is None else float(vmax)
    lim = lim if lim > 0 else 1.0
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    im = ax.imshow(a, cmap=SIGNED_CMAP, vmin=-lim, vmax=lim, interpolation="nearest")
    if annotate:
        _annotate(ax, a, fmt, np.abs(a) > 0.6 * lim)
    return im


def show_positive(
    x: ArrayLike,
    ax: Axes | None = None,
    title: str | None = None,
    vmax: float | None = None,
    annotate: bool = False,
    fmt: str = ".2g",
    log: bool = False,
    colorbar: bool = False,
) -> AxesImage:
    """Show an all-positive 2-D map (counts, magnitudes, a Toeplitz matrix) with a sequential colormap.

    Zero is white and larger values darker, so the eye reads size, not sign.

    Args:
        x: the map, shape (H, W); must have no negative entries.
        ax: axes to draw into; a new 3-inch figure if ``None``.
        title: optional panel title.
        vmax: upper colour limit; ``None`` uses ``max x``.
        annotate: write each value in its cell (for small matrices).
        fmt: format of the annotations.
        log: logarithmic colour scale from 0.5 to ``vmax`` (for counts spanning decades), so that a count
            of 1 is visibly coloured; values below 0.5 (zeros) stay white.
        colorbar: add a colour bar beside the panel.

    Returns:
        the ``AxesImage``.

    Shapes:
        (H, W)

    >>> im = show_positive(torch.tensor([[0.0, 2.0]])); im.get_clim(); plt.close("all")
    (0.0, 2.0)
    """
    a = _to_numpy(x)
    if a.ndim != 2:
        raise ValueError(f"show_positive: x must be 2-D (H, W), got shape {a.shape}")
    if (a < 0).any():
        raise ValueError("show_positive: x has negative entries; use show_signed for signed data")
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    top = float(a.max()) if vmax is None else float(vmax)
    top = top if top > 0 else 1.0
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if log:
        norm = LogNorm(vmin=0.5, vmax=max(top, 1.0))
        im = ax.imshow(np.ma.masked_less(a, 0.5), cmap=POSITIVE_CMAP, norm=norm, interpolation="nearest")
    else:
        im = ax.imshow(a, cmap=POSITIVE_CMAP, vmin=0.0, vmax=top, interpolation="nearest")
    if annotate:
        _annotate(ax, a, fmt, a > 0.6 * top)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def _annotate(ax: Axes, a: np.ndarray, fmt: str, dark: np.ndarray) -> None:
    """Write every value in its cell, in white on dark cells so that it stays readable."""
    for (i, j), v in np.ndenumerate(a):
        text = format(round(float(v)), fmt) if fmt.endswith("d") else format(v, fmt)
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark[i, j] else "black")


def show_grid(
    maps: Sequence[ArrayLike] | torch.Tensor,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 2.0,
    signed: bool = True,
    shared_scale: bool = False,
) -> Figure:
    """Show several 2-D maps (or images) side by side.

    Args:
        maps: a sequence of (H, W) maps, or a tensor (M, H, W); images (C, H, W) with ``signed=False``.
        titles: one title per map.
        ncols: panels per row; all in one row if ``None``.
        size: edge of one panel, in inches.
        signed: diverging colormap (kernels, feature maps) instead of grey images.
        shared_scale: one colour limit for all panels, so magnitudes compare across them.

    Returns:
        the figure.

    Shapes:
        (M, H, W) or M x (C, H, W)

    >>> fig = show_grid(torch.randn(4, 5, 5), ncols=2); len(fig.axes); plt.close(fig)
    4
    """
    items = list(maps)
    if not items:
        raise ValueError("show_grid: maps must not be empty")
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"show_grid: titles must have one entry per map ({len(items)}), got {len(titles)}")
    ncols = len(items) if ncols is None else ncols
    nrows = -(-len(items) // ncols)  # ceil
    fig, axes = subplots(nrows, ncols, size)
    vmax = max(float(np.abs(_to_numpy(m)).max()) for m in items) if shared_scale else None
    for k, m in enumerate(items):
        ax, title = axes.flat[k], None if titles is None else titles[k]
        if signed:
            show_signed(m, ax=ax, title=title, vmax=vmax)
        else:
            show_image(m, ax=ax, title=title)
    return fig
