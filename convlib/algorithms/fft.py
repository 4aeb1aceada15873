"""Convolution by the convolution theorem: ``method="fft"``.

A product of spectra is a *circular* convolution, so three FFTs replace the sliding window: its
cost grows with the image size, not with the kernel size, which wins for large kernels.

Flip and conjugate, stated once. Layers compute the cross-correlation
``corr(x, w)[i] = sum_a x[i + a] * w[a]``, but the convolution theorem is about the convolution
``(x * v)[n] = sum_m x[n - m] * v[m]``. With ``v`` the kernel flipped, ``v[m] = w[k - 1 - m]``:

    corr(x, w)[i] = (x * flip(w))[i + k - 1]

so we transform the *flipped* kernel, multiply spectra, and read the outputs from index ``k - 1``
on. (Equivalently, flipping a real kernel conjugates its spectrum up to a phase, which is why
other implementations multiply by ``conj(W)`` and read from index 0: the conjugate *is* the flip.
Flipping the small kernel costs less than conjugating its large spectrum.)

Circular versus linear. Both signals are zero-padded to one length ``P >= size`` (the padded
input's length, rounded up to a size with only factors 2, 3, 5, which FFTs handle fast). Output
``n = i + k - 1`` reads ``x[n - m]`` for ``m < k``, never a negative index, so for the valid outputs
nothing wraps around: they equal the linear correlation, and we crop to them. Stride keeps every
``s``-th of them (the FFT computes them all anyway), and dilation becomes a kernel with ``d - 1``
zeros inserted between taps.

The ops run a tuned version (:mod:`convlib.algorithms._fast`) that transforms the small kernel
axis by axis and mixes channels into a reused buffer, or by one complex matrix product per frequency
when there are many; the tests check it against this one.
"""

from __future__ import annotations

import functools

import torch

from convlib.algorithms.grid import pad, spread, trailing
from convlib.geometry import Geometry


@functools.lru_cache(maxsize=1024)
def fast_size(n: int) -> int:
    """The smallest ``m >= n`` whose only prime factors are 2, 3 and 5, a size FFTs handle fast.

    Args:
        n: minimum length.

    Returns:
        the FFT length to use.

    >>> fast_size(142), fast_size(286), fast_size(64)  # 142 = 2*71 -> 144 = 2^4 * 3^2
    (144, 288, 64)
    """
    m = n
    while True:
        rest = m
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return m
        m += 1


def correlate(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Cross-correlate an input with a kernel through the FFT.

    Args:
        x: input, padded here by ``geometry.padding``.
        weight: kernel, ``(C_out, C_in/groups, *k)``.
        geometry: stride (every output is computed, then every ``s``-th kept), padding, dilation
            (the kernel is spread with zeros) and groups (channels mix within a group, frequency by
            frequency).

    Returns:
        the correlation, without bias.

    Shapes:
        ``x: (N, C_in, *size)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_out, *out)``.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> correlate(x, torch.ones(1, 1, 2, 2), Geometry.of(2, stride=2)).round()  # 2x2 block sums, e.g. 0+1+4+5
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    x = pad(x, geometry.padding)  # (N, C_in, *padded)
    size = x.shape[2:]
    groups, axes = geometry.groups, tuple(range(2, x.ndim))
    flipped = spread(weight, geometry.dilation).flip(axes)  # (C_out, C_in/groups, *k_eff), reversed along each axis
    length = [fast_size(i) for i in size]
    spectrum_x = torch.fft.rfftn(x, s=length, dim=axes).unflatten(1, (groups, -1))  # (N, groups, C_in/groups, *F)
    spectrum_w = torch.fft.rfftn(flipped, s=length, dim=axes)  # (C_out, C_in/groups, *F)
    spectrum_w = spectrum_w.unflatten(0, (groups, -1))  # (groups, C_out/groups, C_in/groups, *F)
    # the convolution theorem, frequency by frequency: Y_o = sum_c X_c * W_oc within each group
    spectrum_y = torch.einsum("ngc...,goc...->ngo...", spectrum_x, spectrum_w).flatten(1, 2)  # (N, C_out, *F)
    y = torch.fft.irfftn(spectrum_y, s=length, dim=axes)  # (N, C_out, *length): the circular convolution
    valid = (slice(k - 1, i, s) for i, k, s in zip(size, flipped.shape[2:], geometry.stride))
    return y[trailing(valid)]  # (N, C_out, *out): the outputs that did not wrap around, every s-th
