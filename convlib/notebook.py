"""``setup(seed)``: the one call that makes a notebook reproducible.

Every notebook's imports cell ends with ``setup(seed)``. It seeds every random number generator,
turns on torch's deterministic algorithms, fixes print options so that stored outputs are stable,
and applies the course's single figure style (PNG at a fixed dpi, explicit figure size, nearest
interpolation for pixel grids). Nothing here runs on import.
"""

from __future__ import annotations

import os
import random
from typing import Any

import matplotlib as mpl
import matplotlib.style
import numpy as np
import torch

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
    "svg.hashsalt": "convlib",
}

#: Fixed print precision: a change in the 5th decimal must not flip a stored output.
PRINT_PRECISION = 4


def setup(seed: int = 0) -> None:
    """Seed everything, make torch deterministic and apply the course's figure style.

    Args:
        seed: the seed for Python's ``random``, NumPy's global generator and torch (CPU and CUDA).

    Returns:
        None. The effects are global, which is why only notebooks (never convlib itself) call this.

    Shapes:
        not applicable.

    >>> setup(0); a = torch.rand(2)
    >>> setup(0); bool(torch.equal(a, torch.rand(2)))  # same seed, same draw
    True
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"setup: seed must be an int, got {type(seed).__name__} {seed!r}")
    # cuBLAS needs this before its first use to be deterministic; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds the legacy global generator that np.random.* uses
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.set_printoptions(precision=PRINT_PRECISION, sci_mode=False)
    np.set_printoptions(precision=PRINT_PRECISION, suppress=True)
    mpl.style.use(STYLE)
    _use_png_inline()


def _use_png_inline() -> None:
    """Ask the IPython inline backend for PNG only, if we are in a kernel."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing to configure
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png")
