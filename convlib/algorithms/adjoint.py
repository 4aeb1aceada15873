"""The convolution as a linear map, and its two adjoints: transposed convolution and the weight gradient.

A convolution ``y = conv(x, K)`` is linear in ``x`` and linear in ``K``. Backpropagation needs
the adjoint (transpose) of each map:

- w.r.t. ``x``: ``grad_x = conv_transpose(grad_y, K)``. Each input pixel ``x[i*s + a*d]`` fed
  output ``y[i]`` through tap ``K[a]``, so it collects ``grad_y[i] * K[a]``. Computed as: *spread*
  ``grad_y`` onto a stride-``s`` grid (``s - 1`` zeros between samples), pad it by ``d(k-1)`` on
  both sides (less the forward's own padding ``p``, whose gradient nobody needs), and correlate
  with the kernel flipped in space and with in/out channels swapped.
- w.r.t. ``K``: ``grad_K[o, c, a] = sum_{n, i} x_pad[n, c, i*s + a*d] * grad_y[n, o, i]``, the
  correlation of the input with ``grad_y``. It is itself a convolution in which ``grad_y`` plays
  the kernel, the roles of batch and channels swap, and stride and dilation trade places.

Both take the algorithm as a :data:`Correlate` (``loops.correlate``, ``im2col.correlate``, ...),
so the same maths runs on every method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch

from convlib.algorithms.grid import spread, trailing
from convlib.geometry import Geometry

Correlate = Callable[[torch.Tensor, torch.Tensor, Geometry], torch.Tensor]
"""``correlate(x, weight, geometry) -> y``: one algorithm's convolution, without bias."""


def flip_swap(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """The kernel of the adjoint map: flipped in space, in and out channels swapped within each group.

    Args:
        weight: kernel of the forward convolution.
        groups: its number of groups.

    Returns:
        the kernel that correlates ``grad_y`` back onto the input.

    Shapes:
        ``(C_out, C_in/groups, *k)`` -> ``(C_in, C_out/groups, *k)``.

    >>> flip_swap(torch.arange(6.0).view(2, 1, 3), groups=1)  # (2, 1, 3) -> (1, 2, 3), reversed taps
    tensor([[[2., 1., 0.],
             [5., 4., 3.]]])
    """
    c_out = weight.shape[0]
    w = weight.unflatten(0, (groups, c_out // groups))  # (groups, C_out/groups, C_in/groups, *k)
    w = w.transpose(1, 2).flatten(0, 1)  # (C_in, C_out/groups, *k)
    return w.flip(tuple(range(2, w.ndim)))


def conv_transpose(
    grad_y: torch.Tensor, weight: torch.Tensor, size: Sequence[int], geometry: Geometry, correlate: Correlate
) -> torch.Tensor:
    """The adjoint of ``conv`` w.r.t. its input: map ``grad_y`` back to an input of spatial ``size``.

    Args:
        grad_y: a tensor shaped like the convolution's output.
        weight: the convolution's kernel.
        size: spatial size of the (unpadded) input to recover; it picks among the ``s`` input
            sizes with this output size (the remainder is torch's ``output_padding``).
        geometry: of the forward convolution.
        correlate: the algorithm.

    Returns:
        ``grad_x``; for a public ``conv_transpose``, the result.

    Shapes:
        ``grad_y: (N, C_out, *o)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_in, *size)``.

    >>> from convlib.algorithms.loops import correlate
    >>> conv_transpose(torch.ones(1, 1, 2), torch.ones(1, 1, 3), [5], Geometry.of(1, stride=2), correlate)
    tensor([[[1., 1., 2., 1., 1.]]])
    """
    grid = spread(grad_y, geometry.stride)  # (N, C_out, *(s(o-1)+1))
    reach = [d * (k - 1) for d, k in zip(geometry.dilation, weight.shape[2:])]
    # the padded input was longer than grid + reach by output_padding; those pixels get zero gradient
    extra = [i + a + b - n - r for i, (a, b), n, r in zip(size, geometry.padding, grid.shape[2:], reach)]
    # padding d(k-1) - p per side (Dumoulin & Visin's p'; negative crops) skips the input's own padding
    margins = tuple((r - a, r - b + e) for r, (a, b), e in zip(reach, geometry.padding, extra))
    adjoint = Geometry((1,) * len(size), margins, geometry.dilation, geometry.groups)
    return correlate(grid, flip_swap(weight, geometry.groups), adjoint)  # (N, C_in, *size)


def conv_weight_grad(
    x: torch.Tensor, grad_y: torch.Tensor, kernel: Sequence[int], geometry: Geometry, correlate: Correlate
) -> torch.Tensor:
    """The adjoint of ``conv`` w.r.t. its kernel: correlate the padded input with ``grad_y``.

    Args:
        x: the convolution's (unpadded) input.
        grad_y: a tensor shaped like its output.
        kernel: spatial kernel size.
        geometry: of the forward convolution.
        correlate: the algorithm.

    Returns:
        ``grad_K``.

    Shapes:
        ``x: (N, C_in, *size)``, ``grad_y: (N, C_out, *o)`` -> ``(C_out, C_in/groups, *kernel)``.

    >>> from convlib.algorithms.loops import correlate
    >>> x, grad_y = torch.arange(4.0).view(1, 1, 4), torch.ones(1, 1, 2)
    >>> conv_weight_grad(x, grad_y, [3], Geometry.of(1), correlate)  # tap a: x[a] + x[a + 1]
    tensor([[[1., 3., 5.]]])
    """
    groups, c_in, c_out = geometry.groups, x.shape[1], grad_y.shape[1]
    xs = x.unflatten(1, (groups, c_in // groups))  # (N, groups, C_in/groups, *size)
    xs = xs.permute(2, 1, 0, *range(3, xs.ndim)).flatten(1, 2)  # (C_in/groups, groups*N, *size): channels as batch
    gs = grad_y.unflatten(1, (groups, c_out // groups))  # (N, groups, C_out/groups, *o)
    gs = gs.permute(1, 2, 0, *range(3, gs.ndim)).flatten(0, 1)  # (C_out, N, *o): grad_y as the kernel
    # tap a meets x[i*s + a*d]: as a correlation over i, grad_y has dilation s and steps of d
    swapped = dataclasses.replace(geometry, stride=geometry.dilation, dilation=geometry.stride)
    grad = correlate(xs, gs, swapped)  # (C_in/groups, C_out, *k') with k' >= k
    grad = grad[trailing(slice(0, k) for k in kernel)]  # (C_in/groups, C_out, *k)
    return grad.transpose(0, 1)  # (C_out, C_in/groups, *k)
