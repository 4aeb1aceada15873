"""Convolution as a Python loop: the readable reference algorithm behind ``method="loops"``.

In 2-D, with ``X`` already padded, the cross-correlation (no kernel flip, as in torch) is

    Y[n, o, i, j] = sum_{c, a, b} X[n, c, i*s + a*d, j*s + b*d] * K[o, c, a, b]

There are two ways to loop over this sum, and each vectorises everything else:

- **over kernel taps** ``(a, b)``: the pixels one tap touches form a strided *window* of ``X``
  (every ``s``-th pixel, shifted by ``(a*d, b*d)``), and ``K[:, :, a, b]`` times that window is
  added into all of ``Y`` at once;
- **over output positions** ``(i, j)``: ``Y[:, :, i, j]`` is the dot product of the kernel with
  one patch of ``X``.

:func:`correlate` runs whichever loop is shorter. Layers have small kernels, so it loops over taps;
the weight gradient is a correlation whose "kernel" is a whole feature map, so there it loops over
the few output positions. The same code serves 1-D, 2-D and 3-D inputs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from types import EllipsisType

import torch

from convlib.shapes import conv_size


def window(tap: Sequence[int], stride: Sequence[int], dilation: Sequence[int], out: Sequence[int]) -> tuple[slice, ...]:
    """The slices of a padded input that kernel tap ``tap`` meets, one per spatial axis.

    Output position ``i`` reads input position ``i*s + a*d`` for tap ``a``, so over all ``out``
    positions the tap reads ``a*d, a*d + s, ..., a*d + (out-1)*s``.

    Args:
        tap: the kernel offset ``(a, b, ...)``.
        stride: step between output positions, per axis.
        dilation: spacing between kernel taps, per axis.
        out: output size, per axis.

    Returns:
        one ``slice`` per axis, to index the trailing (spatial) axes of the padded input.

    Shapes:
        ``len(tap) == len(stride) == len(dilation) == len(out)``.

    >>> window((1, 2), stride=(2, 1), dilation=(1, 3), out=(4, 5))
    (slice(1, 8, 2), slice(6, 11, 1))
    """
    return tuple(slice(a * d, a * d + (o - 1) * s + 1, s) for a, s, d, o in zip(tap, stride, dilation, out))


def trailing(slices: Iterable[slice]) -> tuple[EllipsisType | slice, ...]:
    """An index that applies ``slices`` to the trailing (spatial) axes, whatever the leading ones.

    Args:
        slices: one slice per spatial axis.

    Returns:
        ``(..., *slices)``, to use as ``x[trailing(...)]``.

    Shapes:
        indexes ``(*leading, *spatial)``.

    >>> torch.arange(12).view(2, 6)[trailing([slice(1, None, 2)])]
    tensor([[ 1,  3,  5],
            [ 7,  9, 11]])
    """
    return (..., *slices)


def correlate(
    x: torch.Tensor, weight: torch.Tensor, stride: Sequence[int], dilation: Sequence[int], groups: int
) -> torch.Tensor:
    """Cross-correlate an already padded input with a kernel, looping over taps or output positions.

    Args:
        x: padded input.
        weight: kernel, ``(C_out, C_in/groups, *k)``.
        stride: step between output positions, per spatial axis.
        dilation: spacing between kernel taps, per spatial axis; 1 is contiguous.
        groups: the channels split into this many independent groups.

    Returns:
        the correlation, without bias.

    Shapes:
        ``x: (N, C_in, *size)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_out, *out)``
        with ``out = floor((size - d(k-1) - 1) / s) + 1``.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> correlate(x, torch.ones(1, 1, 2, 2), stride=(2, 2), dilation=(1, 1), groups=1)  # 2x2 block sums
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    n = x.shape[0]
    c_out, c_in_g, *kernel = weight.shape
    out = [conv_size(i, k, s, 0, d) for i, k, s, d in zip(x.shape[2:], kernel, stride, dilation)]
    xg = x.unflatten(1, (groups, c_in_g))  # (N, G, C_in/G, *size)
    wg = weight.unflatten(0, (groups, c_out // groups))  # (G, C_out/G, C_in/G, *k)
    loop = _over_taps if math.prod(kernel) <= math.prod(out) else _over_positions
    y = loop(xg, wg, stride, dilation, out)  # (N, G, C_out/G, L)
    return y.view(n, c_out, *out)  # (N, C_out, *out)


def _over_taps(
    xg: torch.Tensor, wg: torch.Tensor, stride: Sequence[int], dilation: Sequence[int], out: Sequence[int]
) -> torch.Tensor:
    """``Y += K[..., a, b] @ window(a, b)`` for every tap: ``kH * kW`` iterations."""
    y = xg.new_zeros(xg.shape[0], *wg.shape[:2], math.prod(out))  # (N, G, C_out/G, L)
    taps = wg.flatten(3)  # (G, C_out/G, C_in/G, kH*kW)
    for t, tap in enumerate(itertools.product(*map(range, wg.shape[3:]))):
        patch = xg[trailing(window(tap, stride, dilation, out))]  # (N, G, C_in/G, *out)
        # contract over the input channels of each group: (G, O, C) @ (N, G, C, L) -> (N, G, O, L)
        y += taps[..., t] @ patch.flatten(3)  # (N, G, C_out/G, L)
    return y


def _over_positions(
    xg: torch.Tensor, wg: torch.Tensor, stride: Sequence[int], dilation: Sequence[int], out: Sequence[int]
) -> torch.Tensor:
    """``Y[..., i, j] = <patch(i, j), K>`` for every output position: ``oH * oW`` iterations."""
    kernel = wg.shape[3:]
    w = wg.flatten(2)  # (G, C_out/G, C_in/G*kH*kW)
    y = xg.new_empty(xg.shape[0], *wg.shape[:2], math.prod(out))  # (N, G, C_out/G, L)
    for l, position in enumerate(itertools.product(*map(range, out))):
        # the patch under output (i, j) starts at (i*s, j*s) and has taps every d pixels
        span = (slice(p * s, p * s + d * (k - 1) + 1, d) for p, s, d, k in zip(position, stride, dilation, kernel))
        patch = xg[trailing(span)].flatten(2)  # (N, G, C_in/G*kH*kW)
        # per group: (G, O, C*k) @ (N, G, C*k, 1) -> (N, G, O, 1)
        y[..., l] = (w @ patch.unsqueeze(-1)).squeeze(-1)  # (N, G, C_out/G)
    return y
