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

Every function takes the algorithm as a ``correlate`` callable (loops, im2col, fft, ...) that
cross-correlates an already padded, batched input, so the same maths runs on every method. A
:class:`Method` pairs a correlation with its transposed convolution: this module's generic one,
or an algorithm's own (im2col's col2im).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from convlib.im2col import scratch
from convlib.loops import trailing

Correlate = Callable[[torch.Tensor, torch.Tensor, Sequence[int], Sequence[int], int], torch.Tensor]
"""``correlate(x_padded, weight, stride, dilation, groups) -> y``: one algorithm, no padding, no bias."""

Padding = Sequence[tuple[int, int]]  # (before, after) per spatial axis

Transpose = Callable[
    [torch.Tensor, torch.Tensor, Sequence[int], Sequence[int], Padding, Sequence[int], int], torch.Tensor
]
"""``transpose(x, weight, size, stride, padding, dilation, groups) -> conv^T(x, K)``, of spatial ``size``."""


class Method(NamedTuple):
    """One algorithm, as the autograd ``Function`` s use it: a correlation and a transposed convolution.

    Most algorithms run ``conv^T`` through :func:`conv_transpose`, which reduces it to their own
    correlation (:meth:`generic`); one with a faster route of its own brings it here.
    """

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

        >>> from convlib.loops import correlate
        >>> Method.generic(correlate).transpose(torch.ones(1, 1, 2), torch.ones(1, 1, 3), [5], [2], [(0, 0)], [1], 1)
        tensor([[[1., 1., 2., 1., 1.]]])
        """
        return cls(correlate, functools.partial(conv_transpose, correlate=correlate))


def pad(x: torch.Tensor, padding: Padding, mode: str = "zeros", temporary: bool = False) -> torch.Tensor:
    """Pad the spatial axes, with ``(before, after)`` amounts per axis (as ``nn.Conv2d`` pads).

    Args:
        x: batched input.
        padding: ``(before, after)`` for each spatial axis, first axis first; negative crops.
        mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        temporary: zero padding into the reusable ``"pad"`` :func:`~convlib.im2col.scratch` buffer,
            for a result that only the next correlation reads (not saved, not returned).

    Returns:
        the padded input (``x`` itself when there is nothing to pad).

    Shapes:
        ``(N, C, *size)`` -> ``(N, C, *(size + before + after))``.

    >>> pad(torch.arange(3.0).view(1, 1, 3), [(1, 2)], "reflect")
    tensor([[[1., 0., 1., 2., 1., 0.]]])
    """
    flat = [p for pair in reversed(padding) for p in pair]  # F.pad lists the *last* axis first
    if not any(flat):
        return x
    if not (temporary and mode == "zeros" and min(flat) >= 0):
        return torch.nn.functional.pad(x, flat, mode="constant" if mode == "zeros" else mode)
    size = [i + a + b for i, (a, b) in zip(x.shape[2:], padding)]
    out = scratch((*x.shape[:2], *size), x, "pad").zero_()  # (N, C, *padded)
    out[trailing(slice(a, a + i) for i, (a, _) in zip(x.shape[2:], padding))] = x
    return out


def spread(x: torch.Tensor, stride: Sequence[int]) -> torch.Tensor:
    """Insert ``s - 1`` zeros between neighbouring samples along each spatial axis.

    Args:
        x: batched tensor, typically ``grad_y``.
        stride: the step of the forward convolution, per spatial axis.

    Returns:
        the samples on a grid with step ``s``; ``x`` itself for stride 1.

    Shapes:
        ``(N, C, *o)`` -> ``(N, C, *(s*(o-1) + 1))``.

    >>> spread(torch.tensor([[[1.0, 2.0, 3.0]]]), (2,))
    tensor([[[1., 0., 2., 0., 3.]]])
    """
    if all(s == 1 for s in stride):
        return x
    grid = x.new_zeros(*x.shape[:2], *(s * (o - 1) + 1 for o, s in zip(x.shape[2:], stride)))
    grid[trailing(slice(None, None, s) for s in stride)] = x
    return grid


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
    w = weight.unflatten(0, (groups, c_out // groups))  # (G, C_out/G, C_in/G, *k)
    w = w.transpose(1, 2).flatten(0, 1)  # (C_in, C_out/G, *k)
    return w.flip(tuple(range(2, w.ndim)))


def conv_transpose(
    grad_y: torch.Tensor,
    weight: torch.Tensor,
    size: Sequence[int],
    stride: Sequence[int],
    padding: Padding,
    dilation: Sequence[int],
    groups: int,
    correlate: Correlate,
) -> torch.Tensor:
    """The adjoint of ``conv`` w.r.t. its input: map ``grad_y`` back to an input of spatial ``size``.

    Args:
        grad_y: a tensor shaped like the convolution's output.
        weight: the convolution's kernel.
        size: spatial size of the (unpadded) input to recover; it picks among the ``s`` input
            sizes with this output size (the remainder is torch's ``output_padding``).
        stride, padding, dilation, groups: of the forward convolution.
        correlate: the algorithm.

    Returns:
        ``grad_x``; for a public ``conv_transpose``, the result.

    Shapes:
        ``grad_y: (N, C_out, *o)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_in, *size)``.

    >>> from convlib.loops import correlate
    >>> conv_transpose(torch.ones(1, 1, 2), torch.ones(1, 1, 3), [5], [2], [(0, 0)], [1], 1, correlate)
    tensor([[[1., 1., 2., 1., 1.]]])
    """
    grid = spread(grad_y, stride)  # (N, C_out, *(s(o-1)+1))
    reach = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
    # the padded input was longer than grid + reach by output_padding; those pixels get zero gradient
    extra = [i + a + b - g - r for i, (a, b), g, r in zip(size, padding, grid.shape[2:], reach)]
    # padding d(k-1) - p per side (Dumoulin & Visin's p'; negative crops) skips the input's own padding
    margins = [(r - a, r - b + e) for r, (a, b), e in zip(reach, padding, extra)]
    full = pad(grid, margins, temporary=True)  # (N, C_out, *(size + reach))
    return correlate(full, flip_swap(weight, groups), [1] * len(size), dilation, groups)  # (N, C_in, *size)


def conv_weight_grad(
    x: torch.Tensor,
    grad_y: torch.Tensor,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Padding,
    dilation: Sequence[int],
    groups: int,
    correlate: Correlate,
) -> torch.Tensor:
    """The adjoint of ``conv`` w.r.t. its kernel: correlate the padded input with ``grad_y``.

    Args:
        x: the convolution's (unpadded) input.
        grad_y: a tensor shaped like its output.
        kernel: spatial kernel size.
        stride, padding, dilation, groups: of the forward convolution.
        correlate: the algorithm.

    Returns:
        ``grad_K``.

    Shapes:
        ``x: (N, C_in, *size)``, ``grad_y: (N, C_out, *o)`` -> ``(C_out, C_in/groups, *kernel)``.

    >>> from convlib.loops import correlate
    >>> conv_weight_grad(torch.arange(4.0).view(1, 1, 4), torch.ones(1, 1, 2), [3], [1], [(0, 0)], [1], 1, correlate)
    tensor([[[1., 3., 5.]]])
    """
    c_in = x.shape[1]
    c_out = grad_y.shape[1]
    xs = pad(x, padding, temporary=True).unflatten(1, (groups, c_in // groups))  # (N, G, C_in/G, *padded)
    xs = xs.permute(2, 1, 0, *range(3, xs.ndim)).flatten(1, 2)  # (C_in/G, G*N, *padded): channels as batch
    gs = grad_y.unflatten(1, (groups, c_out // groups))  # (N, G, C_out/G, *o)
    gs = gs.permute(1, 2, 0, *range(3, gs.ndim)).flatten(0, 1)  # (C_out, N, *o): grad_y as the kernel
    # tap a meets x[i*s + a*d]: as a correlation over i, grad_y has dilation s and steps of d
    grad = correlate(xs, gs, dilation, stride, groups)  # (C_in/G, C_out, *k') with k' >= k
    grad = grad[trailing(slice(0, k) for k in kernel)]  # (C_in/G, C_out, *k)
    return grad.transpose(0, 1)  # (C_out, C_in/G, *k)
