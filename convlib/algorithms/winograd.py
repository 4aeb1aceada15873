"""Winograd's minimal filtering F(2x2, 3x3): ``method="winograd"`` for 3x3, stride-1, undilated kernels.

A direct 3x3 correlation spends 9 multiplications per output pixel and channel pair. Winograd
(Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) computes a 2x2 block of
outputs from a 4x4 input tile with 16 multiplications, i.e. 4 per output, 2.25x fewer:

    Y = A^T [ (G g G^T) * (B^T d B) ] A      (* is elementwise)

where ``d`` is a 4x4 input tile, ``g`` the 3x3 kernel (Lavin & Gray's letter; ``G`` is always the
matrix, ``groups`` the channel groups) and ``Y`` the 2x2 output block. The matrices
(:data:`BT`, :data:`G`, :data:`AT`) are Lavin & Gray's; they compute cross-correlation (no flip), as
layers do, and :func:`tile` applies them to one tile. Neighbouring tiles overlap by 2 pixels (tile
step 2). The elementwise product over 16 positions becomes, once summed over input channels, 16
independent matrix products, which is where the time goes.

The three transforms are linear maps of whole tiles. Flattened row by row, ``B^T d B`` is the
16x16 matrix ``kron(B^T, B^T)`` times the 16-vector ``d`` (and likewise for ``G`` and ``A``), so
each transform of all tiles at once is one ordinary matrix product rather than millions of 4x4 ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from convlib.algorithms.grid import pad
from convlib.geometry import Geometry

#: Lavin & Gray's F(2, 3) input transform ``B^T`` (4x4).
BT = ((1.0, 0.0, -1.0, 0.0), (0.0, 1.0, 1.0, 0.0), (0.0, -1.0, 1.0, 0.0), (0.0, 1.0, 0.0, -1.0))
#: Lavin & Gray's F(2, 3) kernel transform ``G`` (4x3).
G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))
#: Lavin & Gray's F(2, 3) output transform ``A^T`` (2x4).
AT = ((1.0, 1.0, 1.0, 0.0), (0.0, 1.0, -1.0, -1.0))


def tile(d: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """F(2x2, 3x3) on one tile: the 2x2 outputs of a 3x3 kernel on a 4x4 input tile, in 16 multiplications.

    Args:
        d: the input tile.
        g: the kernel.

    Returns:
        ``A^T [(G g G^T) * (B^T d B)] A``, equal to the 2x2 valid correlation of ``d`` with ``g``.

    Shapes:
        ``d: (4, 4)``, ``g: (3, 3)`` -> ``(2, 2)``.

    >>> tile(torch.arange(16.0).view(4, 4), torch.ones(3, 3))  # 3x3 sums: 0+1+2+4+5+6+8+9+10 = 45
    tensor([[45., 54.],
            [81., 90.]])
    """
    bt, g_mat, at = (torch.tensor(m, dtype=d.dtype, device=d.device) for m in (BT, G, AT))
    u = g_mat @ g @ g_mat.T  # (4, 4): the kernel in "Winograd space", computed once per kernel
    v = bt @ d @ bt.T  # (4, 4): the tile in "Winograd space"
    return at @ (u * v) @ at.T  # (2, 2): 16 elementwise multiplications instead of 2*2*9 = 36


def supports(kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> bool:
    """Whether F(2x2, 3x3) applies: a 2-D 3x3 kernel with stride 1 and dilation 1.

    Args:
        kernel: kernel size per spatial axis.
        stride: stride per axis.
        dilation: dilation per axis.

    Returns:
        ``True`` when :func:`correlate` can run.

    Shapes:
        tuples of length 2.

    >>> supports((3, 3), (1, 1), (1, 1)), supports((3, 3), (2, 2), (1, 1))
    (True, False)
    """
    return tuple(kernel) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)


def correlate(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Cross-correlate an image with 3x3 kernels by Winograd F(2x2, 3x3): :func:`tile` on every tile at once.

    Args:
        x: input, padded here by ``geometry.padding``.
        weight: 3x3 kernel.
        geometry: stride and dilation 1 (see :func:`supports`), any padding and groups.

    Returns:
        the correlation, without bias.

    Raises:
        ValueError: for a geometry or kernel that F(2x2, 3x3) does not cover.

    Shapes:
        ``x: (N, C_in, H, W)``, ``weight: (C_out, C_in/groups, 3, 3)`` -> ``(N, C_out, H+2p-2, W+2p-2)``.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> correlate(x, torch.ones(1, 1, 3, 3), Geometry.of(2))  # 3x3 sums, as tile() gives
    tensor([[[[45., 54.],
              [81., 90.]]]])
    """
    if x.ndim != 4 or not supports(weight.shape[2:], geometry.stride, geometry.dilation):
        raise ValueError(
            f"winograd.correlate: needs a 2-D input and a 3x3 kernel with stride 1 and dilation 1, got input "
            f"{tuple(x.shape)}, kernel {tuple(weight.shape[2:])}, stride {geometry.stride}, "
            f"dilation {geometry.dilation}"
        )
    bt, g_mat, at = (torch.tensor(m, dtype=x.dtype, device=x.device) for m in (BT, G, AT))
    x = pad(x, geometry.padding)  # (N, C_in, H, W), padded
    n, c_in, h, w = x.shape
    groups, (c_out, c_in_g) = geometry.groups, weight.shape[:2]
    c_out_g = c_out // groups
    out = (h - 2, w - 2)
    tiles = (math.ceil(out[0] / 2), math.ceil(out[1] / 2))
    # pad bottom/right so that the last tile is complete; its surplus outputs are cropped at the end
    x = torch.nn.functional.pad(x, (0, 2 * tiles[1] + 2 - w, 0, 2 * tiles[0] + 2 - h))
    sn, sc, sh, sw = x.stride()
    d = x.as_strided((4, 4, n, c_in, *tiles), (sh, sw, sn, sc, 2 * sh, 2 * sw))  # (4, 4, N, C_in, tH, tW)
    d = d.unflatten(3, (groups, c_in_g)).permute(3, 0, 1, 4, 2, 5, 6)  # (groups, 4, 4, C_in/groups, N, tH, tW)
    # B^T d B on every tile at once: vec(B^T d B) = (B^T kron B^T) vec(d), one 16x16 matrix product
    v = torch.kron(bt, bt) @ d.reshape(groups, 16, -1)  # (groups, 16, C_in/groups*N*T): tiles in "Winograd space"
    taps = weight.reshape(groups, c_out_g, c_in_g, 9).permute(0, 3, 1, 2)  # (groups, 9, C_out/groups, C_in/groups)
    # G g G^T for every kernel g at once, also one matrix product: (G kron G) is 16x9
    u = torch.kron(g_mat, g_mat) @ taps.flatten(2)  # (groups, 16, C_out/groups*C_in/groups)
    u = u.view(groups, 16, c_out_g, c_in_g)  # (groups, 16, C_out/groups, C_in/groups)
    m = u @ v.view(groups, 16, c_in_g, -1)  # (groups, 16, C_out/groups, N*T): 16 channel-mixing products per group
    y = torch.kron(at, at) @ m.flatten(2)  # (groups, 4, C_out/groups*N*T): A^T m A, the 2x2 output blocks
    y = y.view(groups, 2, 2, c_out_g, n, *tiles).permute(4, 0, 3, 5, 1, 6, 2)  # (N, groups, O, tH, 2, tW, 2)
    y = y.reshape(n, c_out, 2 * tiles[0], 2 * tiles[1])  # (N, C_out, 2tH, 2tW)
    return y[..., : out[0], : out[1]]  # (N, C_out, H-2, W-2)
