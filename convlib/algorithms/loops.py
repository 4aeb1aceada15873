"""Convolution as a Python loop: the readable reference algorithm behind ``method="loops"``.

In 2-D, with ``X`` padded, the cross-correlation (no kernel flip, as in torch) is

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
from collections.abc import Sequence

import torch

from convlib.algorithms.grid import pad, trailing, window
from convlib.geometry import Geometry
from convlib.shapes import conv_size


def correlate(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Cross-correlate an input with a kernel, looping over kernel taps or over output positions.

    Args:
        x: input, padded here by ``geometry.padding``.
        weight: kernel, ``(C_out, C_in/groups, *k)``.
        geometry: stride, padding, dilation and groups, one entry per spatial axis.

    Returns:
        the correlation, without bias.

    Shapes:
        ``x: (N, C_in, *size)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_out, *out)``
        with ``out = floor((size + 2p - d(k-1) - 1) / s) + 1``.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> correlate(x, torch.ones(1, 1, 2, 2), Geometry.of(2, stride=2))  # 2x2 block sums, e.g. 0+1+4+5 = 10
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    x = pad(x, geometry.padding)  # (N, C_in, *padded)
    n, groups = x.shape[0], geometry.groups
    c_out, c_in_g, *kernel = weight.shape
    out = [conv_size(i, k, s, 0, d) for i, k, s, d in zip(x.shape[2:], kernel, geometry.stride, geometry.dilation)]
    xg = x.unflatten(1, (groups, c_in_g))  # (N, groups, C_in/groups, *padded)
    wg = weight.unflatten(0, (groups, c_out // groups))  # (groups, C_out/groups, C_in/groups, *k)
    loop = over_taps if math.prod(kernel) <= math.prod(out) else over_positions
    y = loop(xg, wg, geometry.stride, geometry.dilation, out)  # (N, groups, C_out/groups, L)
    return y.view(n, c_out, *out)  # (N, C_out, *out)


def over_taps(
    xg: torch.Tensor, wg: torch.Tensor, stride: Sequence[int], dilation: Sequence[int], out: Sequence[int]
) -> torch.Tensor:
    """``Y += K[..., a, b] @ window(a, b)`` for every tap: ``kH * kW`` iterations.

    Args:
        xg: padded input, channels split into groups.
        wg: kernel, output channels split into groups.
        stride, dilation: per spatial axis.
        out: output size per spatial axis.

    Returns:
        the correlation, output positions flattened.

    Shapes:
        ``xg: (N, groups, C_in/groups, *padded)``, ``wg: (groups, C_out/groups, C_in/groups, *k)``
        -> ``(N, groups, C_out/groups, L)``.

    >>> over_taps(torch.arange(4.0).view(1, 1, 1, 4), torch.ones(1, 1, 1, 2), (1,), (1,), (3,))  # x[i] + x[i+1]
    tensor([[[[1., 3., 5.]]]])
    """
    y = xg.new_zeros(xg.shape[0], *wg.shape[:2], math.prod(out))  # (N, groups, C_out/groups, L)
    taps = wg.flatten(3)  # (groups, C_out/groups, C_in/groups, kH*kW)
    for t, tap in enumerate(itertools.product(*map(range, wg.shape[3:]))):
        patch = xg[trailing(window(tap, stride, dilation, out))]  # (N, groups, C_in/groups, *out)
        # contract over the input channels of each group: (groups, O, C) @ (N, groups, C, L) -> (N, groups, O, L)
        y += taps[..., t] @ patch.flatten(3)  # (N, groups, C_out/groups, L)
    return y


def over_positions(
    xg: torch.Tensor, wg: torch.Tensor, stride: Sequence[int], dilation: Sequence[int], out: Sequence[int]
) -> torch.Tensor:
    """``Y[..., i, j] = <patch(i, j), K>`` for every output position: ``oH * oW`` iterations.

    Args:
        xg, wg, stride, dilation, out: as :func:`over_taps`.

    Returns:
        the correlation, output positions flattened.

    Shapes:
        as :func:`over_taps`.

    >>> over_positions(torch.arange(4.0).view(1, 1, 1, 4), torch.ones(1, 1, 1, 2), (1,), (1,), (3,))
    tensor([[[[1., 3., 5.]]]])
    """
    kernel = wg.shape[3:]
    w = wg.flatten(2)  # (groups, C_out/groups, C_in/groups*kH*kW)
    y = xg.new_empty(xg.shape[0], *wg.shape[:2], math.prod(out))  # (N, groups, C_out/groups, L)
    for l, position in enumerate(itertools.product(*map(range, out))):
        # the patch under output (i, j) starts at (i*s, j*s) and has taps every d pixels
        span = (slice(p * s, p * s + d * (k - 1) + 1, d) for p, s, d, k in zip(position, stride, dilation, kernel))
        patch = xg[trailing(span)].flatten(2)  # (N, groups, C_in/groups*kH*kW)
        # per group: (groups, O, C*k) @ (N, groups, C*k, 1) -> (N, groups, O, 1)
        y[..., l] = (w @ patch.unsqueeze(-1)).squeeze(-1)  # (N, groups, C_out/groups)
    return y
