"""``unfold`` (im2col) and ``fold`` (col2im): sliding patches as columns, and columns summed back into an image.

These are torch's ``F.unfold`` and ``F.fold``, built on the same two index helpers that the im2col
algorithm uses: :func:`~convlib.algorithms.grid.patches` and :func:`~convlib.algorithms.grid.col2im`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from convlib import _validate as check
from convlib.algorithms.grid import col2im, pad, patches
from convlib.shapes import conv_size


def unfold(
    input: torch.Tensor,
    kernel_size: int | Sequence[int],
    dilation: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    stride: int | Sequence[int] = 1,
) -> torch.Tensor:
    """Extract sliding patches as columns (im2col), exactly as ``torch.nn.functional.unfold``.

    Args:
        input: batched ``(N, C, H, W)`` or unbatched ``(C, H, W)`` image.
        kernel_size: patch size ``(kH, kW)``.
        dilation: spacing between patch taps.
        padding: zeros added on each side before extracting.
        stride: step between patches.

    Returns:
        one column per patch; rows run over ``(c, a, b)`` with ``b`` fastest.

    Shapes:
        ``(N, C, H, W)`` -> ``(N, C*kH*kW, L)`` with ``L = oH*oW``; unbatched drops ``N``.

    >>> unfold(torch.arange(9.0).view(1, 1, 3, 3), kernel_size=2)  # 4 patches of 2x2 = 4 taps
    tensor([[[0., 1., 3., 4.],
             [1., 2., 4., 5.],
             [3., 4., 6., 7.],
             [4., 5., 7., 8.]]])
    """
    op = "unfold"
    x = check.tensor(input, "input", op)
    check.ndim(x, (3, 4), "input", op, "(N, C, H, W)")
    kernel, dil, per_side, step = check.fold_args(op, kernel_size, dilation, padding, stride)
    size = [i + 2 * p for i, p in zip(x.shape[-2:], per_side)]
    if any(i < d * (k - 1) + 1 for i, k, d in zip(size, kernel, dil)):
        raise ValueError(f"{op}: kernel_size {kernel} (dilation {dil}) exceeds the padded input size {tuple(size)}")
    batched = x if x.ndim == 4 else x.unsqueeze(0)  # (N, C, H, W)
    padded = pad(batched, [(p, p) for p in per_side])  # (N, C, H+2p, W+2p)
    view = patches(padded, kernel, step, dil)  # (N, C, kH, kW, oH, oW)
    cols = view.reshape(view.shape[0], -1, math.prod(view.shape[4:]))  # (N, C*kH*kW, L), a copy
    return cols if x.ndim == 4 else cols[0]


def fold(
    input: torch.Tensor,
    output_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    dilation: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    stride: int | Sequence[int] = 1,
) -> torch.Tensor:
    """Sum columns back into an image (col2im), exactly as ``torch.nn.functional.fold``.

    ``fold`` is the adjoint (transpose) of :func:`unfold`: a pixel covered by several patches
    receives the *sum* of their entries, so ``fold(unfold(x))`` multiplies each pixel by the number
    of patches that contain it.

    Args:
        input: columns, as :func:`unfold` returns them.
        output_size: image size ``(H, W)``, without padding.
        kernel_size: patch size ``(kH, kW)``.
        dilation: spacing between patch taps.
        padding: per-side padding that :func:`unfold` added; it is cropped away here.
        stride: step between patches.

    Returns:
        the image.

    Shapes:
        ``(N, C*kH*kW, L)`` -> ``(N, C, H, W)``; unbatched ``(C*kH*kW, L)`` -> ``(C, H, W)``.

    >>> fold(unfold(torch.ones(1, 1, 3, 3), 2), (3, 3), 2)  # patch count per pixel
    tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]])
    """
    op = "fold"
    cols = check.tensor(input, "input", op)
    check.ndim(cols, (2, 3), "input", op, "(N, C*kH*kW, L)")
    size = check.positive(check.ntuple(output_size, 2, "output_size", op), "output_size", op)
    kernel, dil, per_side, step = check.fold_args(op, kernel_size, dilation, padding, stride)
    batched = cols if cols.ndim == 3 else cols.unsqueeze(0)  # (N, C*kH*kW, L)
    taps = math.prod(kernel)
    padded = [i + 2 * p for i, p in zip(size, per_side)]
    out = [conv_size(i, k, s, 0, d) for i, k, s, d in zip(padded, kernel, step, dil)]
    if batched.shape[1] % taps or batched.shape[2] != math.prod(out) or min(out) < 1:
        raise ValueError(
            f"{op}: input must have shape (N, C*{taps}, {math.prod(out)}) for output_size {size}, "
            f"kernel_size {kernel}, got {tuple(cols.shape)}"
        )
    n, c = batched.shape[0], batched.shape[1] // taps
    image = col2im(batched.view(n, c, *kernel, *out), padded, step, dil)  # (N, C, H + 2p, W + 2p)
    image = image[..., per_side[0] : per_side[0] + size[0], per_side[1] : per_side[1] + size[1]]  # (N, C, H, W)
    return image if cols.ndim == 3 else image[0]
