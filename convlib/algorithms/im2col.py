"""im2col: convolution as one matrix product, ``method="im2col"``.

Every output pixel of a convolution is a dot product of the kernel with one patch of the padded
input. Lay the patches out as the columns of a matrix ``cols`` of shape ``(C_in*kH*kW, L)``, where
``L`` counts output pixels, and the whole convolution becomes the single product
``K.view(C_out, C_in*kH*kW) @ cols``, which BLAS runs near the machine's peak.

The price is memory: ``cols`` stores every input pixel once per kernel tap that reads it, about
``kH*kW / (sH*sW)`` times the input. :func:`~convlib.algorithms.grid.patches` builds ``cols`` as a
view, without copying, and the one ``reshape`` below makes the copy. The tuned version that the
ops run (buffers reused between calls, the batch split so that ``cols`` fits in a cache-friendly
size) is in :mod:`convlib.algorithms._fast`, and the tests check that it returns the same numbers as
this one.
"""

from __future__ import annotations

import math

import torch

from convlib.algorithms.grid import pad, patches
from convlib.geometry import Geometry


def correlate(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Cross-correlate an input with a kernel as one matrix product per image and group.

    Args:
        x: input, padded here by ``geometry.padding``.
        weight: kernel, ``(C_out, C_in/groups, *k)``.
        geometry: stride, padding, dilation and groups.

    Returns:
        the correlation, without bias.

    Shapes:
        ``x: (N, C_in, *size)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_out, *out)``.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> correlate(x, torch.ones(1, 1, 2, 2), Geometry.of(2, stride=2))  # 2x2 block sums, e.g. 0+1+4+5 = 10
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    x = pad(x, geometry.padding)  # (N, C_in, *padded)
    n, groups = x.shape[0], geometry.groups
    c_out, c_in_g, *kernel = weight.shape
    view = patches(x, kernel, geometry.stride, geometry.dilation)  # (N, C_in, *k, *out): no copy yet
    out = view.shape[2 + len(kernel) :]
    taps = c_in_g * math.prod(kernel)
    cols = view.reshape(n, groups, taps, math.prod(out))  # (N, groups, C_in/groups*kH*kW, L): the copy
    w = weight.reshape(groups, c_out // groups, taps)  # (groups, C_out/groups, C_in/groups*kH*kW)
    y = w @ cols  # (N, groups, C_out/groups, L): one matrix product per image and group
    return y.reshape(n, c_out, *out)  # (N, C_out, *out)
