"""What every algorithm does to the spatial grid: pad it, spread it, and find the pixels a kernel tap reads.

A convolution with stride ``s`` and dilation ``d`` reads, for output position ``i`` and kernel tap
``a``, the padded input at ``i*s + a*d`` (per spatial axis). Everything here is an index or a view
built from that one rule; no function in this module multiplies anything.

- :func:`pad` adds ``(before, after)`` cells per axis, as ``nn.Conv2d`` pads;
- :func:`spread` inserts ``s - 1`` zeros between samples: a dilated kernel, or a strided gradient;
- :func:`window` and :func:`trailing` index the pixels one tap reads at every output position;
- :func:`patches` views every tap at every position at once (im2col without the copy);
- :func:`col2im` adds patches back where they came from: the adjoint of :func:`patches`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from types import EllipsisType

import torch

from convlib.geometry import Padding
from convlib.shapes import conv_size


def trailing(slices: Iterable[slice]) -> tuple[EllipsisType | slice, ...]:
    """An index that applies ``slices`` to the trailing (spatial) axes, whatever the leading ones.

    Args:
        slices: one slice per spatial axis.

    Returns:
        ``(..., *slices)``, to use as ``x[trailing(...)]``.

    Shapes:
        indexes ``(*leading, *spatial)``.

    >>> torch.arange(12).view(2, 6)[trailing([slice(1, None, 2)])]  # every other column, from 1
    tensor([[ 1,  3,  5],
            [ 7,  9, 11]])
    """
    return (..., *slices)


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

    >>> window((1, 2), stride=(2, 1), dilation=(1, 3), out=(4, 5))  # rows 1, 3, 5, 7; columns 6 .. 10
    (slice(1, 8, 2), slice(6, 11, 1))
    """
    return tuple(slice(a * d, a * d + (o - 1) * s + 1, s) for a, s, d, o in zip(tap, stride, dilation, out))


def pad(x: torch.Tensor, padding: Padding, mode: str = "zeros") -> torch.Tensor:
    """Pad the spatial axes, with ``(before, after)`` amounts per axis (as ``nn.Conv2d`` pads).

    Args:
        x: batched input.
        padding: ``(before, after)`` for each spatial axis, first axis first; negative crops.
        mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.

    Returns:
        the padded input (``x`` itself when there is nothing to pad).

    Shapes:
        ``(N, C, *size)`` -> ``(N, C, *(size + before + after))``.

    >>> pad(torch.arange(3.0).view(1, 1, 3), [(1, 2)], "reflect")  # mirror images of 1 | 0 1 2 | 1 0
    tensor([[[1., 0., 1., 2., 1., 0.]]])
    """
    flat = [p for pair in reversed(padding) for p in pair]  # F.pad lists the *last* axis first
    if not any(flat):
        return x
    return torch.nn.functional.pad(x, flat, mode="constant" if mode == "zeros" else mode)


def spread(x: torch.Tensor, step: Sequence[int]) -> torch.Tensor:
    """Insert ``step - 1`` zeros between neighbouring samples along each spatial axis.

    The same operation serves twice: a dilated kernel is its dense kernel spread by the dilation,
    and the input gradient of a strided convolution starts from ``grad_y`` spread by the stride.

    Args:
        x: a tensor ``(A, B, *spatial)``: a batch of images or a kernel.
        step: spacing per spatial axis; 1 leaves an axis as it is.

    Returns:
        the samples on a grid with spacing ``step``; ``x`` itself when every step is 1.

    Shapes:
        ``(A, B, *n)`` -> ``(A, B, *(step*(n-1) + 1))``.

    >>> spread(torch.tensor([[[1.0, 2.0, 3.0]]]), (2,))
    tensor([[[1., 0., 2., 0., 3.]]])
    """
    if all(s == 1 for s in step):
        return x
    grid = x.new_zeros(*x.shape[:2], *(s * (n - 1) + 1 for n, s in zip(x.shape[2:], step)))
    grid[trailing(slice(None, None, s) for s in step)] = x
    return grid


def patches(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> torch.Tensor:
    """All kernel-sized patches of a padded input, as a strided view (no copy).

    Entry ``[n, c, a, b, i, j]`` is ``x[n, c, i*s + a*d, j*s + b*d]``: the pixel that kernel tap
    ``(a, b)`` meets at output position ``(i, j)``. Both kinds of index move through the same
    memory, so the view repeats each input pixel up to ``kH*kW`` times without storing it twice.

    Args:
        x: padded input.
        kernel: kernel size per spatial axis.
        stride: step between output positions, per axis.
        dilation: spacing between kernel taps, per axis.

    Returns:
        a view of ``x``; copy it before writing.

    Shapes:
        ``(N, C, *size)`` -> ``(N, C, *kernel, *out)``.

    >>> patches(torch.arange(5.0).view(1, 1, 5), kernel=(2,), stride=(2,), dilation=(1,))[0, 0]  # taps x positions
    tensor([[0., 2.],
            [1., 3.]])
    """
    n, c, *size = x.shape
    out = [conv_size(i, k, s, 0, d) for i, k, s, d in zip(size, kernel, stride, dilation)]
    sn, sc, *step = x.stride()
    tap_strides = [st * d for st, d in zip(step, dilation)]
    pixel_strides = [st * s for st, s in zip(step, stride)]
    return x.as_strided((n, c, *kernel, *out), (sn, sc, *tap_strides, *pixel_strides), x.storage_offset())


def col2im(blocks: torch.Tensor, size: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> torch.Tensor:
    """Add every patch back where :func:`patches` read it from: the adjoint of extracting patches.

    Args:
        blocks: one value per channel, kernel tap and output position.
        size: spatial size of the (padded) image to rebuild.
        stride: step between output positions, per axis.
        dilation: spacing between kernel taps, per axis.

    Returns:
        the image; a pixel inside several patches gets the sum of their entries.

    Shapes:
        ``(N, C, *k, *out)`` -> ``(N, C, *size)``.

    >>> col2im(torch.ones(1, 1, 2, 3), size=(4,), stride=(1,), dilation=(1,))  # 3 windows of 2 taps
    tensor([[[1., 2., 2., 1.]]])
    """
    n, c, *rest = blocks.shape
    kernel, out = rest[: len(size)], rest[len(size) :]
    image = blocks.new_zeros(n, c, *size)  # (N, C, *size)
    for tap in itertools.product(*(range(k) for k in kernel)):
        # tap (a, b, ...) of every patch lands on the same strided window it was read from
        index: tuple[slice | int, ...] = (slice(None), slice(None), *tap)  # blocks[:, :, a, b, ...]
        image[trailing(window(tap, stride, dilation, out))] += blocks[index]
    return image
