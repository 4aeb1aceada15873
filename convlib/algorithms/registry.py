"""The algorithms behind ``method=``, and the rule that ``method="auto"`` follows.

A :class:`Method` is an algorithm as the ops and the hand-written backward use it: a correlation and
a transposed convolution. :data:`PLAIN` holds the readable versions, :data:`FAST` the ones the ops
run (the tuned im2col and FFT of :mod:`~convlib.algorithms._fast`, the plain rest).

``"auto"`` picks im2col or FFT by a cost model in units of one multiply-add of im2col's matrix
product. Its three constants are fitted by ``tools/bench.py`` to the times it measures on this
course's 2-core reference machine, and written to ``benchmarks/auto_cost.json``; a test checks that
the values below are the committed fit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from convlib.algorithms import _fast, fft, im2col, loops, winograd
from convlib.algorithms.adjoint import Correlate, conv_transpose
from convlib.geometry import Geometry
from convlib.shapes import conv_size

#: The names ``method=`` accepts, ``"auto"`` first.
METHODS = ("auto", "loops", "im2col", "fft", "winograd")

# Fitted by tools/bench.py (benchmarks/auto_cost.json), in units of one multiply-add of im2col's
# matrix product. Copying one entry of the patch matrix costs COPY units (memory-bound); an FFT
# FFT_POINT units per point and factor log2(points); mixing channels SPECTRAL_MAC units per complex
# multiply-add (elementwise, also memory-bound); and one FFT convolution FFT_CALL units more than one
# im2col convolution, whatever its size (more calls, more temporaries): what decides tiny layers.
COPY = 38.6
FFT_POINT = 19.1
SPECTRAL_MAC = 158.9
FFT_CALL = 2.07e7

Transpose = Callable[[torch.Tensor, torch.Tensor, Sequence[int], Geometry], torch.Tensor]
"""``transpose(x, weight, size, geometry) -> conv^T(x, K)``, of spatial ``size``."""


class Method(NamedTuple):
    """One algorithm: a correlation, and a transposed convolution (the generic one, or its own)."""

    correlate: Correlate
    transpose: Transpose

    @classmethod
    def generic(cls, correlate: Correlate) -> Method:
        """The method whose ``conv^T`` spreads, pads and correlates with ``correlate``.

        Args:
            correlate: the algorithm.

        Returns:
            the method.

        Shapes:
            none.

        >>> Method.generic(loops.correlate).transpose(torch.ones(1, 1, 2), torch.ones(1, 1, 3), [5], Geometry.of(1, 2))
        tensor([[[1., 1., 2., 1., 1.]]])
        """
        return cls(correlate, functools.partial(conv_transpose, correlate=correlate))


def _winograd_or(other: Correlate) -> Correlate:
    """Winograd where F(2x2, 3x3) applies, else ``other``: the weight gradient's "kernel" is ``grad_y``."""

    def correlate(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
        if x.ndim == 4 and winograd.supports(weight.shape[2:], geometry.stride, geometry.dilation):
            return winograd.correlate(x, weight, geometry)
        return other(x, weight, geometry)

    return correlate


def choose_method(x_shape: Sequence[int], w_shape: Sequence[int], stride: Sequence[int]) -> str:
    """The algorithm ``method="auto"`` runs: ``"fft"`` when its estimated cost is lower, else ``"im2col"``.

    im2col costs one multiply-add per kernel tap, output pixel and channel pair, plus copying the
    patch matrix (kernel taps x input channels x output pixels). FFT costs three batches of
    transforms (input, kernel, output), ``~ points * log2(points)`` each, plus one complex
    multiply-add per frequency and channel pair, and does not depend on the kernel size: FFT wins
    for large kernels, and loses for many channels. Stride favours im2col, which computes only the
    strided outputs.

    Args:
        x_shape: padded input shape ``(N, C_in, *size)``.
        w_shape: dilated kernel shape ``(C_out, C_in/groups, *k)``.
        stride: stride per spatial axis.

    Returns:
        ``"fft"`` or ``"im2col"``.

    Shapes:
        shapes in, a name out.

    >>> choose_method((1, 1, 286, 286), (1, 1, 31, 31), (1, 1))  # 1 channel, 31x31 kernel
    'fft'
    >>> choose_method((8, 64, 58, 58), (64, 64, 3, 3), (1, 1))  # 64 channels, 3x3 kernel
    'im2col'
    """
    return _choose(tuple(x_shape), tuple(w_shape), tuple(stride), tuple(constants().items()))


def constants() -> dict[str, float]:
    """The constants of the ``"auto"`` rule in use.

    Returns:
        ``COPY``, ``FFT_POINT``, ``SPECTRAL_MAC`` and ``FFT_CALL``, by name.

    Shapes:
        none.

    >>> sorted(constants())
    ['COPY', 'FFT_CALL', 'FFT_POINT', 'SPECTRAL_MAC']
    """
    return {"COPY": COPY, "FFT_POINT": FFT_POINT, "SPECTRAL_MAC": SPECTRAL_MAC, "FFT_CALL": FFT_CALL}


def prefers_fft(terms: dict[str, float], constants: dict[str, float]) -> bool:
    """The rule itself: whether FFT's estimated cost is below im2col's, for :func:`costs` ' terms.

    Args:
        terms: :func:`costs` of one convolution.
        constants: as :func:`constants` returns them (or a refitted set).

    Returns:
        ``True`` for FFT.

    Shapes:
        none.

    >>> prefers_fft(costs((1, 1, 286, 286), (1, 1, 31, 31), (1, 1)), constants())  # one channel, 31x31
    True
    """
    direct = terms["macs"] + constants["COPY"] * terms["copy"]
    spectral = constants["FFT_POINT"] * terms["transforms"] + constants["SPECTRAL_MAC"] * terms["mixing"]
    return spectral + constants["FFT_CALL"] < direct


def costs(x_shape: Sequence[int], w_shape: Sequence[int], stride: Sequence[int]) -> dict[str, float]:
    """The terms of the cost model, before its constants weigh them: what ``tools/bench.py`` fits.

    Args:
        x_shape, w_shape, stride: as :func:`choose_method`.

    Returns:
        ``macs`` and ``copy`` (im2col's terms), ``transforms`` and ``mixing`` (FFT's), and ``call``
        (1: one call of either).

    Shapes:
        shapes in, numbers out.

    >>> costs((1, 1, 10), (1, 1, 3), (1,))["macs"]  # 8 outputs x 3 taps
    24.0
    """
    n, c_in, *size = x_shape
    c_out, c_in_g, *kernel = w_shape
    out = math.prod(conv_size(i, k, s) for i, k, s in zip(size, kernel, stride))
    points = math.prod(fft.fast_size(i) for i in size)
    return {
        "macs": float(n * c_out * c_in_g * out * math.prod(kernel)),
        "copy": float(n * c_in * math.prod(kernel) * out),  # entries of the patch matrix
        "transforms": (n * c_in + c_out * c_in_g + n * c_out) * points * math.log2(max(points, 2)),
        "mixing": n * c_out * c_in_g * points / 2,  # a real FFT keeps half the spectrum
        "call": 1.0,
    }


@functools.lru_cache(maxsize=1024)
def _choose(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: tuple[int, ...], rule: tuple[tuple[str, float], ...]
) -> str:
    """:func:`choose_method` for given constants, remembered per shape: a network repeats a few shapes."""
    return "fft" if prefers_fft(costs(x_shape, w_shape, stride), dict(rule)) else "im2col"


def _dilated(weight: torch.Tensor, dilation: Sequence[int]) -> tuple[int, ...]:
    """The shape of ``weight`` spread by ``dilation``: what the cost of a dilated kernel depends on."""
    return (*weight.shape[:2], *(d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:])))


def _auto(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    padded = (*x.shape[:2], *(i + a + b for i, (a, b) in zip(x.shape[2:], geometry.padding)))
    name = choose_method(padded, _dilated(weight, geometry.dilation), geometry.stride)
    return FAST[name].correlate(x, weight, geometry)


def _auto_transpose(x: torch.Tensor, weight: torch.Tensor, size: Sequence[int], geometry: Geometry) -> torch.Tensor:
    """``"auto"`` 's ``conv^T``: :func:`choose_method` on the correlation that the generic route runs."""
    kernel = _dilated(weight, geometry.dilation)[2:]
    x_shape = (*x.shape[:2], *(i + k - 1 for i, k in zip(size, kernel)))  # spread, padded by reach per side
    w_shape = (weight.shape[1] * geometry.groups, weight.shape[0] // geometry.groups, *kernel)  # flipped and swapped
    name = choose_method(x_shape, w_shape, (1,) * len(size))
    return FAST[name].transpose(x, weight, size, geometry)


#: The readable version of each algorithm, by name; ``"winograd"`` falls back to im2col where F(2, 3) does not apply.
PLAIN: dict[str, Method] = {
    "loops": Method.generic(loops.correlate),
    "im2col": Method.generic(im2col.correlate),
    "fft": Method.generic(fft.correlate),
    "winograd": Method.generic(_winograd_or(im2col.correlate)),
}

#: What the ops run, by ``method=`` name: the tuned im2col and FFT, the plain rest, and ``"auto"``.
FAST: dict[str, Method] = {
    **PLAIN,
    "im2col": Method(_fast.im2col_correlate, _fast.im2col_transpose),
    "fft": Method.generic(_fast.fft_correlate),
    "winograd": Method.generic(_winograd_or(_fast.im2col_correlate)),
    "auto": Method(_auto, _auto_transpose),
}
