"""``setup(seed)``: the one call that makes a notebook reproducible.

Every notebook's imports cell ends with ``setup(seed)``. It seeds every random number generator,
turns on torch's deterministic algorithms, sets torch's default floating-point type, fixes print
options so that stored outputs are stable, and applies the course's single figure style (PNG at a
fixed dpi, explicit figure size, nearest interpolation for pixel grids). Nothing here runs on import.

The notebooks that train networks call ``setup(seed, dtype=torch.float64)``. A CPU's instruction set
(AVX2 or AVX-512, Intel or AMD) decides the order in which torch, MKL and oneDNN add float32
products, so float32 sums differ in their last bits from one machine to another, and a few hundred
SGD steps turn those bits into different weights and accuracies. In float64 the same differences
start about nine decimal digits lower and stay far below every printed digit.
"""

from __future__ import annotations

import io
import math
import os
import random
from typing import Any

import matplotlib as mpl
import matplotlib.style
import numpy as np
import torch
from matplotlib.figure import Figure

#: The one figure style of the course. PNG keeps outputs byte-stable (SVG embeds dates and ids).
STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (6.0, 4.0),
    "figure.constrained_layout.use": True,
    "image.interpolation": "nearest",
    "image.cmap": "gray",
    "axes.grid": False,
    "axes.titlesize": 10,
    "font.size": 9,
}

#: Fixed print precision, so that a change in the 5th decimal cannot flip a stored output.
PRINT_PRECISION = 4


def setup(seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
    """Seed everything, make torch deterministic, set its default dtype and apply the figure style.

    Args:
        seed: the seed for Python's ``random``, NumPy's global generator and torch (CPU and CUDA).
        dtype: torch's default floating-point type from now on (``torch.float32`` or
            ``torch.float64``): new parameters, random draws and the course's data sets take it.

    Returns:
        None. The effects are global, which is why only notebooks (never convlib itself) call this.

    >>> setup(0); a = torch.rand(2)
    >>> setup(0); bool(torch.equal(a, torch.rand(2)))  # same seed, same draw
    True
    >>> setup(0, dtype=torch.float64); torch.rand(2).dtype
    torch.float64
    >>> setup(0); torch.rand(2).dtype  # every call sets the default, float32 unless told
    torch.float32
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"setup: seed must be an int, got {type(seed).__name__} {seed!r}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"setup: dtype must be torch.float32 or torch.float64, got {dtype!r}")
    # cuBLAS needs this before its first use to be deterministic; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds the legacy global generator that np.random.* uses
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.set_default_dtype(dtype)
    torch.set_printoptions(precision=PRINT_PRECISION, sci_mode=False)
    np.set_printoptions(precision=PRINT_PRECISION, suppress=True)
    mpl.style.use(STYLE)
    _use_png_inline()


def _use_png_inline() -> None:
    """In a kernel, show figures as palette PNGs only (no SVG, no duplicate formats)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing to configure
        return
    shell = get_ipython()
    if shell is None:
        return
    set_matplotlib_formats("png")
    shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def figure_png(fig: Figure) -> bytes:
    """Render a figure as a 256-colour palette PNG at the style's dpi.

    A feature-map grid in RGBA is 2 to 3 times larger than in a palette, and figures use a few
    colormaps plus anti-aliased text, which 256 colours reproduce without visible loss. Both steps
    are deterministic, so a re-executed notebook stores the same bytes.

    Args:
        fig: the figure to render.

    Returns:
        the PNG file's bytes.

    >>> figure_png(Figure(figsize=(1, 1)))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"  # the PNG signature
    True
    """
    from PIL import Image

    rendered = io.BytesIO()
    fig.savefig(rendered, format="png", dpi=STYLE["savefig.dpi"], bbox_inches="tight", facecolor="white")
    rendered.seek(0)
    with Image.open(rendered) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def below(value: float) -> str:
    """A rounding error as a bound that another CPU cannot change: ``"below 1e-06"``.

    The last bits of a float32 (or float64) sum depend on the CPU's instruction set, so an error of
    ``2e-07`` on one machine is ``3e-07`` on another. A stored output prints the smallest power of
    ten that is at least 1.5 times the error instead: errors between about 6.7e-8 and 6.7e-7 all
    read ``below 1e-06``, and only an error within a few percent of those edges could print
    differently.

    Args:
        value: a non-negative error magnitude.

    Returns:
        ``"below 1e-NN"`` (``"0"`` for an exact zero).

    >>> below(2.4e-07), below(3.1e-07), below(8e-07), below(0.0)
    ('below 1e-06', 'below 1e-06', 'below 1e-05', '0')
    """
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"below: value must be a finite non-negative number, got {value!r}")
    if value == 0:
        return "0"
    return f"below {10.0 ** math.ceil(math.log10(1.5 * value)):.0e}"
