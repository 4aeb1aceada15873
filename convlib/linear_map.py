"""A convolution written out as the matrix it is: ``vec(conv(x, K)) == C @ vec(x)``.

A convolution is linear in its input, so for a fixed kernel and input size it is multiplication by
one matrix ``C``, of shape ``(C_out * prod(out), C_in * prod(size))``, where ``vec`` flattens one
image channel-major and then row-major (``x[0].flatten()`` in torch). The matrix's transpose is the
transposed convolution: ``vec(conv_transpose(y, K)) == C.T @ vec(y)``, which is why the backward
pass of a convolution *is* a transposed convolution.

:func:`conv_matrix` builds ``C`` from the one rule every algorithm shares (output ``i`` reads the
padded input at ``i*s + a*d`` through tap ``a``; see :mod:`convlib.algorithms.grid`), without calling
any convolution. Per spatial axis the rule is a 0/1 *selection* tensor ``E[i, a, j]`` (output ``i``
reads input ``j`` through tap ``a``), and ``C`` is the kernel contracted with one selection per axis.
In 2-D that is a sum over taps of Kronecker products, the doubly block Toeplitz structure.

No framework stores ``C``: it has ``prod(out) * prod(size)`` entries per channel pair, almost all
zero. It is for teaching and testing small cases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from convlib import _validate as check
from convlib.geometry import Geometry, Size
from convlib.shapes import conv_size


def selection(size: int, kernel: int, stride: int, padding: int, dilation: int) -> torch.Tensor:
    """The 0/1 tensor of one axis: ``E[i, a, j] = 1`` where output ``i`` reads input ``j`` through tap ``a``.

    Args:
        size: input length ``i``, unpadded.
        kernel: kernel length ``k``.
        stride: ``s``.
        padding: ``p`` per side; taps on the padding select nothing.
        dilation: ``d``.

    Returns:
        a float64 tensor.

    Shapes:
        ``(out, kernel, size)`` with ``out = floor((size + 2p - d(k-1) - 1)/s) + 1``.

    >>> selection(4, 2, stride=2, padding=0, dilation=1)[1]  # output 1 reads inputs 2 and 3
    tensor([[0., 0., 1., 0.],
            [0., 0., 0., 1.]], dtype=torch.float64)
    """
    out = conv_size(size, kernel, stride, padding, dilation)
    # the unpadded input index that output i reads through tap a; outside 0..size-1 it is padding
    read = torch.arange(out)[:, None] * stride + torch.arange(kernel)[None, :] * dilation - padding  # (out, k)
    return (read[:, :, None] == torch.arange(size)).double()  # (out, k, size)


def conv_matrix(
    weight: torch.Tensor,
    size: Sequence[int],
    stride: Size = 1,
    padding: Size = 0,
    dilation: Size = 1,
    groups: int = 1,
) -> torch.Tensor:
    """The matrix ``C`` with ``vec(conv(x, weight)) == C @ vec(x)`` for one input of spatial ``size``.

    Args:
        weight: the kernel, ``(C_out, C_in/groups, *k)`` as in torch, with 1 to 3 spatial axes.
        size: spatial size of the (unpadded) input.
        stride, padding, dilation: as ``torch.nn.functional.conv2d`` (padding per side, zeros).
        groups: number of channel groups; ``C`` is block diagonal with one block per group.

    Returns:
        ``C``, with ``weight``'s dtype and device.

    Raises:
        ValueError: ``size`` does not match the kernel's spatial axes, or the kernel does not fit.

    Shapes:
        ``(C_out, C_in/groups, *k)`` -> ``(C_out * prod(out), C_in * prod(size))``.

    >>> conv_matrix(torch.tensor([[[1.0, 2.0]]]), [3])  # each row holds the kernel, one step further right
    tensor([[1., 2., 0.],
            [0., 1., 2.]])
    """
    op = "conv_matrix"
    n = weight.ndim - 2
    if n not in (1, 2, 3) or len(size) != n:
        raise ValueError(f"{op}: size must have one entry per spatial axis of weight {tuple(weight.shape)}, got {size}")
    geometry = Geometry.of(n, stride, padding, dilation, check.positive((groups,), "groups", op)[0])
    c_out, c_in_g, *kernel = weight.shape
    if c_out % groups:
        raise ValueError(f"{op}: groups must divide C_out = {c_out}, got groups={groups}")
    axes = zip(size, kernel, geometry.stride, geometry.padding, geometry.dilation)
    if any(conv_size(i, k, s, p, d) < 1 for i, k, s, (p, _), d in axes):
        raise ValueError(f"{op}: kernel {tuple(kernel)} does not fit input size {tuple(size)} with this padding")
    axes = zip(size, kernel, geometry.stride, geometry.padding, geometry.dilation)
    picks = [selection(i, k, s, p, d).to(weight) for i, k, s, (p, _), d in axes]  # n x (out, k, size)
    # sublists name the axes: 0 out channel, 1 in channel, then per spatial axis a tap, an output, an input
    taps, outs, ins = [list(range(start, start + n)) for start in (2, 2 + n, 2 + 2 * n)]
    operands: list[object] = [weight.unflatten(0, (groups, c_out // groups)), [3 * n + 2, 0, 1, *taps]]
    for e, a, o, i in zip(picks, taps, outs, ins):
        operands += [e, [o, a, i]]
    blocks = torch.einsum(*operands, [3 * n + 2, 0, *outs, 1, *ins])  # (groups, C_out/groups, *out, C_in/groups, *size)
    out = blocks.shape[2 : 2 + n]
    rows, cols = c_out // groups * math.prod(out), c_in_g * math.prod(size)
    return torch.block_diag(*blocks.reshape(groups, rows, cols))  # (C_out*prod(out), C_in*prod(size))
