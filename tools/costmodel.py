"""The cost model of ``method="auto"``, measured (``tools/bench.py``): its regret, and its constants refitted.

The "auto regret" suite times im2col, FFT, Winograd (3x3, stride 1) and ``auto`` itself on about 30 layer
shapes spread over kernel sizes, image sizes, channels, batch and stride. ``auto`` 's regret on a shape is
its time over the best method's. From the same times :func:`fit_constants` refits the constants of
``auto`` 's rule (:mod:`convlib.algorithms.registry`) by non-negative least squares on relative error,
and :func:`regret_with` says what regret the refitted constants would have had.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence

import numpy as np

from convlib import functional as cf
from convlib.algorithms import registry
from convlib.algorithms.winograd import supports
from tools.bench_suites import Shape, output_size, tensors
from tools.timing import interleaved


def regret_shapes(count: int = 30, seed: int = 0, budget: float = 4e8) -> list[tuple[Shape, int]]:
    """``count`` 2-D layer shapes (with stride) spread over kernel 1-31, sizes 16-256, channels 1-128, batch 1-32.

    Shapes whose direct multiply-adds exceed ``budget`` (or whose patch matrix exceeds 256 MiB) are
    redrawn, so that the sweep stays within a few minutes on two cores.

    Args:
        count: number of shapes.
        seed: the draw is a fixed function of it.
        budget: largest multiply-add count of one forward pass.

    Returns:
        ``((N, C_in, size, C_out, k), stride)`` pairs.

    Shapes:
        none.
    """
    rng, shapes = random.Random(seed), list[tuple[Shape, int]]()
    while len(shapes) < count:
        k, size = rng.choice([1, 3, 3, 5, 7, 9, 11, 15, 21, 31]), rng.choice([16, 32, 56, 64, 128, 256])
        c_in, c_out = rng.choice([1, 3, 8, 16, 32, 64, 128]), rng.choice([1, 8, 16, 32, 64, 128])
        n, stride = rng.choice([1, 2, 4, 8, 16, 32]), rng.choice([1, 1, 1, 2])
        out = output_size((n, c_in, size, c_out, k), stride)
        macs, cols = n * c_out * c_in * out * out * k * k, 4 * n * c_in * k * k * out * out
        if k <= size and macs <= budget and cols <= 256 << 20:
            shapes.append(((n, c_in, size, c_out, k), stride))
    return shapes


def measure_regret(shapes: list[tuple[Shape, int]], rounds: int, min_round: float) -> list[dict]:
    """Per shape: forward seconds of im2col, fft, winograd (3x3, stride 1) and auto, and auto's pick."""
    out = []
    for dims, stride in shapes:
        x, w, _, _ = tensors(dims, 2)
        pad, k = dims[4] // 2, dims[4]
        names = ["im2col", "fft", "auto"] + (["winograd"] if stride == 1 and supports((k, k), (1, 1), (1, 1)) else [])
        calls = {m: functools.partial(cf.conv2d, x, w, stride=stride, padding=pad, method=m) for m in names}
        times = interleaved(calls, rounds, min_round)
        padded = (dims[0], dims[1], dims[2] + 2 * pad, dims[2] + 2 * pad)
        terms = registry.costs(padded, w.shape, (stride, stride))
        pick = registry.choose_method(padded, w.shape, (stride, stride))
        out.append({"dims": dims, "stride": stride, "times": times, "pick": pick, "terms": terms})
    return out


def fit_constants(samples: list[dict]) -> dict[str, float]:
    """Refit the constants of the ``"auto"`` rule to measured im2col and FFT times.

    im2col's time is modelled as ``a * macs + b * copy + c0`` and FFT's as
    ``c * transforms + e * mixing + f0`` (non-negative least squares on relative error, ``c0`` and
    ``f0`` the fixed cost of one call); the constants are in units of one multiply-add, ``a``:
    ``COPY = b / a``, ``FFT_POINT = c / a``, ``SPECTRAL_MAC = e / a``, ``FFT_CALL = (f0 - c0) / a``.

    Args:
        samples: entries of the regret sweep, with ``times`` and the cost model's ``terms``.

    Returns:
        the four constants.

    Shapes:
        none.
    """
    from scipy.optimize import nnls

    def solve(terms: Sequence[str], method: str) -> np.ndarray:
        a = np.array([[s["terms"][t] / s["times"][method] for t in terms] for s in samples])
        return nnls(a, np.ones(len(samples)))[0]

    (mac, copy, direct_call), (point, mixing, fft_call) = (
        solve(("macs", "copy", "call"), "im2col"),
        solve(("transforms", "mixing", "call"), "fft"),
    )
    return {
        "COPY": copy / mac,
        "FFT_POINT": point / mac,
        "SPECTRAL_MAC": mixing / mac,
        "FFT_CALL": (fft_call - direct_call) / mac,
    }


def regret_with(samples: list[dict], constants: dict[str, float]) -> list[float]:
    """For each shape: the measured time of the method these constants pick, over the best measured time."""
    out = []
    for s in samples:
        pick = "fft" if registry.prefers_fft(s["terms"], constants) else "im2col"
        out.append(s["times"][pick] / min(v for m, v in s["times"].items() if m != "auto"))
    return out
