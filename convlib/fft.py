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
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from convlib.im2col import scratch
from convlib.loops import trailing


@functools.lru_cache(maxsize=1024)
def fast_size(n: int) -> int:
    """The smallest ``m >= n`` whose only prime factors are 2, 3 and 5, a size FFTs handle fast.

    Args:
        n: minimum length.

    Returns:
        the FFT length to use.

    Shapes:
        scalar in, scalar out.

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


def dilate(weight: torch.Tensor, dilation: Sequence[int]) -> torch.Tensor:
    """Insert ``d - 1`` zeros between neighbouring kernel taps along each spatial axis.

    Args:
        weight: kernel.
        dilation: spacing between taps, per spatial axis; 1 returns ``weight`` itself.

    Returns:
        the dense kernel that a dilated correlation with ``weight`` equals.

    Shapes:
        ``(C_out, C_in/groups, *k)`` -> ``(C_out, C_in/groups, *(d*(k-1) + 1))``.

    >>> dilate(torch.tensor([[[1.0, 2.0, 3.0]]]), (2,))
    tensor([[[1., 0., 2., 0., 3.]]])
    """
    if all(d == 1 for d in dilation):
        return weight
    kernel = weight.shape[2:]
    dense = weight.new_zeros(*weight.shape[:2], *(d * (k - 1) + 1 for k, d in zip(kernel, dilation)))
    dense[trailing(slice(None, None, d) for d in dilation)] = weight
    return dense


def correlate(
    x: torch.Tensor, weight: torch.Tensor, stride: Sequence[int], dilation: Sequence[int], groups: int
) -> torch.Tensor:
    """Cross-correlate an already padded input with a kernel through the FFT.

    Args:
        x: padded input.
        weight: kernel, ``(C_out, C_in/groups, *k)``.
        stride: step between output positions, per spatial axis (outputs are computed, then
            subsampled).
        dilation: spacing between kernel taps (the kernel is densified with zeros).
        groups: number of channel groups; channels mix only within a group, frequency by frequency.

    Returns:
        the correlation, without bias.

    Shapes:
        ``x: (N, C_in, *size)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_out, *out)``.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> correlate(x, torch.ones(1, 1, 2, 2), stride=(2, 2), dilation=(1, 1), groups=1).round()  # 2x2 sums
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    n, _, *size = x.shape
    c_out, c_in_g = weight.shape[:2]
    axes = tuple(range(2, x.ndim))
    flipped = dilate(weight, dilation).flip(axes)  # (C_out, C_in/G, *k_eff), reversed along each axis
    length = [fast_size(i) for i in size]
    spectrum_x = torch.fft.rfftn(x, s=length, dim=axes)  # (N, C_in, *F)
    spectrum_w = _rfftn_sparse(flipped, length)  # (C_out, C_in/G, *F)
    xg = spectrum_x.unflatten(1, (groups, c_in_g))  # (N, G, C_in/G, *F)
    wg = spectrum_w.unflatten(0, (groups, c_out // groups))  # (G, C_out/G, C_in/G, *F)
    # per frequency, Y = sum_c X_c * W_c within each group; one input channel at a time keeps the
    # temporary small, and it lives in a reused buffer
    spectrum_y = xg[:, :, None, 0] * wg[:, :, 0]  # (N, G, C_out/G, *F)
    product = scratch(spectrum_y.shape, spectrum_y, "spectrum")
    for c in range(1, c_in_g):
        spectrum_y += torch.mul(xg[:, :, None, c], wg[:, :, c], out=product)
    spectrum_y = spectrum_y.reshape(n, c_out, *spectrum_x.shape[2:])  # (N, C_out, *F)
    y = torch.fft.irfftn(spectrum_y, s=length, dim=axes)  # (N, C_out, *length)
    valid = (slice(k - 1, i, s) for i, k, s in zip(size, flipped.shape[2:], stride))
    return y[trailing(valid)]  # (N, C_out, *out), a strided view


def _rfftn_sparse(w: torch.Tensor, length: Sequence[int]) -> torch.Tensor:
    """``rfftn(w, s=length)`` over the spatial axes, for a kernel much smaller than ``length``.

    Transforming the last axis first, while the kernel still has only ``k`` rows, skips the
    transforms of the rows that zero-padding would add; the result is identical. Each further
    axis is moved last before its transform, because FFTs along a strided axis are slow.
    """
    spectrum = torch.fft.rfft(w, n=length[-1], dim=-1)  # (C_out, C_in/G, *k[:-1], F_last)
    for axis, n in zip(range(2, w.ndim - 1), length[:-1]):
        moved = spectrum.movedim(axis, -1).contiguous()  # this axis last, in memory too
        spectrum = torch.fft.fft(moved, n=n, dim=-1).movedim(-1, axis)
    return spectrum
