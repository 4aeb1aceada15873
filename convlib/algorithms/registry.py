"""The algorithms behind ``method=``, the switch to their plain versions, and the rule of ``method="auto"``.

A :class:`Method` is an algorithm as the ops and the hand-written backward use it: a correlation, a
transposed convolution and the bias addition. :data:`PLAIN` holds the readable versions that the
chapters show, :data:`FAST` the tuned ones (:mod:`~convlib.algorithms._fast`'s im2col, FFT and bias;
the plain rest). The ops run :data:`FAST`; inside ``with`` :func:`plain` they run :data:`PLAIN`,
forward and backward, which the tests prove give the same numbers.

``"auto"`` picks im2col or FFT by a cost model in units of one multiply-add of im2col's matrix
product, with four constants: see the comment above them.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import torch

from convlib.algorithms import _fast, fft, im2col, loops, winograd
from convlib.algorithms.adjoint import Correlate, conv_transpose
from convlib.algorithms.autograd import add_bias
from convlib.geometry import Geometry
from convlib.shapes import conv_size

#: The names ``method=`` accepts, ``"auto"`` first.
METHODS = ("auto", "loops", "im2col", "fft", "winograd")

# The constants of the "auto" rule, in units of one multiply-add of im2col's matrix product. Copying one
# entry of the patch matrix costs COPY units (memory-bound); an FFT FFT_POINT units per point and factor
# log2(points); mixing channels SPECTRAL_MAC units per complex multiply-add (elementwise, also
# memory-bound); and one FFT convolution FFT_CALL units more than one im2col convolution, whatever its
# size (more calls, more temporaries): what decides tiny layers.
# tools/bench.py fitted them, rounded, on an earlier run on the course's 2-core reference machine: they
# are not the committed run's fit. Each run times the rule with the values in use, refits them to its
# own times, and writes both to benchmarks/auto_cost.json ("in_use", "fitted"); chapter 05-cost-and-speed
# shows both sets and the regret of each. tests/test_benchmarks_shown.py checks that the committed run
# used these values, and that its refit lies within 15% of each of them.
COPY = 45.3
FFT_POINT = 22.4
SPECTRAL_MAC = 162.9
FFT_CALL = 3.39e7

Transpose = Callable[[torch.Tensor, torch.Tensor, Sequence[int], Geometry], torch.Tensor]
"""``transpose(x, weight, size, geometry) -> conv^T(x, K)``, of spatial ``size``."""


AddBias = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
"""``add_bias(y, bias) -> y + u``, contiguous; ``bias`` ``None`` adds nothing."""


class Method(NamedTuple):
    """One algorithm: a correlation, a transposed convolution (the generic one, or its own), a bias addition."""

    correlate: Correlate
    transpose: Transpose
    add_bias: AddBias = add_bias

    @classmethod
    def generic(cls, correlate: Correlate, bias: AddBias = add_bias) -> Method:
        """The method whose ``conv^T`` spreads, pads and correlates with ``correlate``.

        Args:
            correlate: the algorithm.
            bias: how it adds the bias.

        Returns:
            the method.

        >>> Method.generic(loops.correlate).transpose(torch.ones(1, 1, 2), torch.ones(1, 1, 3), [5], Geometry.of(1, 2))
        tensor([[[1., 1., 2., 1., 1.]]])
        """
        return cls(correlate, functools.partial(conv_transpose, correlate=correlate), bias)


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


def _auto(table: dict[str, Method]) -> Method:
    """``"auto"`` over the methods in ``table``: :func:`choose_method` picks im2col or FFT for each call."""

    def correlate(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
        padded = (*x.shape[:2], *(i + a + b for i, (a, b) in zip(x.shape[2:], geometry.padding)))
        name = choose_method(padded, _dilated(weight, geometry.dilation), geometry.stride)
        return table[name].correlate(x, weight, geometry)

    def transpose(x: torch.Tensor, weight: torch.Tensor, size: Sequence[int], geometry: Geometry) -> torch.Tensor:
        # choose_method on the correlation that the generic conv^T runs
        kernel = _dilated(weight, geometry.dilation)[2:]
        x_shape = (*x.shape[:2], *(i + k - 1 for i, k in zip(size, kernel)))  # spread, padded by reach per side
        w_shape = (weight.shape[1] * geometry.groups, weight.shape[0] // geometry.groups, *kernel)  # flip-swapped
        name = choose_method(x_shape, w_shape, (1,) * len(size))
        return table[name].transpose(x, weight, size, geometry)

    return Method(correlate, transpose, table["im2col"].add_bias)


#: The readable version of each algorithm, by name, as the chapters show it. ``"winograd"`` falls back
#: to im2col where F(2, 3) does not apply (the weight gradient's "kernel" is ``grad_y``).
PLAIN: dict[str, Method] = {
    "loops": Method.generic(loops.correlate),
    "im2col": Method.generic(im2col.correlate),
    "fft": Method.generic(fft.correlate),
    "winograd": Method.generic(_winograd_or(im2col.correlate)),
}

#: What the ops run, by ``method=`` name: the tuned im2col, FFT and bias, the plain rest.
FAST: dict[str, Method] = {
    "loops": Method.generic(loops.correlate, _fast.add_bias),
    "im2col": Method(_fast.im2col_correlate, _fast.im2col_transpose, _fast.add_bias),
    "fft": Method.generic(_fast.fft_correlate, _fast.add_bias),
    "winograd": Method.generic(_winograd_or(_fast.im2col_correlate), _fast.add_bias),
}
PLAIN["auto"], FAST["auto"] = _auto(PLAIN), _auto(FAST)

_plain = contextvars.ContextVar("convlib_plain", default=False)


@contextlib.contextmanager
def plain() -> Iterator[None]:
    """Run every convolution op on the plain algorithms (:data:`PLAIN`) inside the ``with`` block.

    The ops normally run :data:`FAST`, whose im2col and FFT reuse buffers, split the batch and copy
    per thread. Inside ``with plain():`` they run the short functions the chapters show instead,
    forward and backward, so that a reader can step through them, or change them, inside a whole
    network. The results are the same up to rounding (the tests check every tuned branch). The
    switch holds for the current thread (a ``contextvars`` context) and nests.

    Returns:
        a context manager; nothing is bound by ``as``.

    >>> import torch
    >>> from convlib.functional import conv2d
    >>> x, w = torch.randn(1, 2, 8, 8), torch.randn(3, 2, 3, 3)
    >>> with plain():  # im2col.correlate, as chapter 05 shows it
    ...     y = conv2d(x, w, method="im2col")
    >>> torch.allclose(y, conv2d(x, w, method="im2col"), atol=1e-5)  # the tuned copy, outside
    True
    """
    token = _plain.set(True)
    try:
        yield
    finally:
        _plain.reset(token)


def resolve(name: str) -> Method:
    """The algorithm that ``method=name`` runs now: from :data:`PLAIN` inside :func:`plain`, else :data:`FAST`.

    Args:
        name: one of :data:`METHODS`.

    Returns:
        the method.

    >>> resolve("im2col") is FAST["im2col"]
    True
    """
    return (PLAIN if _plain.get() else FAST)[name]
