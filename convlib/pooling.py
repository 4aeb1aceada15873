"""Max and average pooling, built from strided window views of the padded input.

Every op pads the input, takes a *view* of all windows with :func:`~convlib.algorithms.grid.patches`
(no copy; the same view im2col reads) and reduces the window axes: ``max`` for max pooling,
``sum / count`` for average pooling. The semantics, errors
aside, are ``torch.nn.functional``'s; gradients come from autograd through the views.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from convlib import _validate as check
from convlib.algorithms.grid import patches
from convlib.geometry import Geometry, Size
from convlib.shapes import pool_output_size

_LAYOUT = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)"}


def _check_input(op: str, x: torch.Tensor, nd: int) -> None:
    """A float tensor, batched or not, with non-empty channel and spatial axes (torch's rule too)."""
    check.tensor(x, "input", op)
    check.ndim(x, (nd + 1, nd + 2), "input", op, _LAYOUT[nd])
    if 0 in x.shape[-nd - 1 :]:
        raise ValueError(f"{op}: input must have non-zero channel and spatial sizes, got {tuple(x.shape)}")


def _geometry(
    op: str,
    x: torch.Tensor,
    nd: int,
    kernel_size: Size,
    stride: Size | None,
    padding: Size,
    dilation: Size,
    ceil_mode: bool,
) -> tuple[tuple[int, ...], Geometry]:
    """Check every argument as torch does, before any compute; return the window size and geometry.

    The geometry pads ``padding`` before each axis and, after it, exactly up to where the last window
    ends: less than ``padding`` (a negative amount crops a tail that no window reaches) in floor mode,
    possibly more in ceil mode.
    """
    _check_input(op, x, nd)
    k = check.positive(check.ntuple(kernel_size, nd, "kernel_size", op), "kernel_size", op)
    s = k if stride is None else check.positive(check.ntuple(stride, nd, "stride", op), "stride", op)
    p = check.non_negative(check.ntuple(padding, nd, "padding", op), "padding", op)
    d = check.positive(check.ntuple(dilation, nd, "dilation", op), "dilation", op)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"{op}: padding must be at most half of kernel_size, got padding={p}, kernel_size={k}")
    size = tuple(x.shape[-nd:])
    out = tuple(pool_output_size(*a, ceil_mode=ceil_mode) for a in zip(size, k, s, p, d))
    if any(o < 1 for o in out):
        raise ValueError(
            f"{op}: kernel_size={k} with dilation={d} is larger than the padded input "
            f"(spatial size {size}, padding={p}): output size would be {out}"
        )
    span = [(o - 1) * si + di * (ki - 1) + 1 for o, si, di, ki in zip(out, s, d, k)]  # padded length windows reach
    return k, Geometry(s, tuple((pi, n - i - pi) for pi, n, i in zip(p, span, size)), d)


def _windows(x: torch.Tensor, kernel: tuple[int, ...], geometry: Geometry, fill: float) -> torch.Tensor:
    """All pooling windows of batched ``x`` as a view: ``(N, C, *out, *kernel)``."""
    x = F.pad(x, [p for pair in reversed(geometry.padding) for p in pair], value=fill)  # (N, C, *span)
    view = patches(x, kernel, geometry.stride, geometry.dilation)  # (N, C, *kernel, *out), as a convolution reads it
    nd = len(kernel)
    return view.movedim(tuple(range(2, 2 + nd)), tuple(range(2 + nd, 2 + 2 * nd)))  # (N, C, *out, *kernel)


def _batched(x: torch.Tensor, nd: int) -> tuple[torch.Tensor, bool]:
    """Add a batch axis to unbatched input; the flag says whether to drop it again."""
    unbatched = x.ndim == nd + 1
    return (x.unsqueeze(0) if unbatched else x), unbatched  # (N, C, *size)


def _along(t: torch.Tensor, axis: int, nd: int) -> torch.Tensor:
    """View a 1-D per-axis tensor so that it broadcasts along spatial ``axis`` of ``nd``."""
    return t.view([-1 if a == axis else 1 for a in range(nd)])


def _flat_indices(
    local: torch.Tensor, kernel: tuple[int, ...], geometry: Geometry, size: Sequence[int]
) -> torch.Tensor:
    """Turn the argmax inside each window into torch's index into the flattened spatial input."""
    flat = torch.zeros_like(local)
    taps = torch.unravel_index(local, kernel)  # position inside the window, per axis
    nd, out = len(kernel), local.shape[-len(kernel) :]
    axes = zip(taps, geometry.stride, geometry.padding, geometry.dilation, size, out)
    for axis, (tap, s, (p, _), d, i, o) in enumerate(axes):
        first = _along(torch.arange(o, device=local.device) * s - p, axis, nd)  # first tap of each window
        flat = flat * i + first + tap * d  # row-major: earlier axes were scaled by this axis' size
    return flat


def _max_pool(
    op: str,
    nd: int,
    x: torch.Tensor,
    kernel_size: Size,
    stride: Size | None,
    padding: Size,
    dilation: Size,
    ceil_mode: bool,
    return_indices: bool,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    kernel, geometry = _geometry(op, x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    xb, unbatched = _batched(x, nd)
    windows = _windows(xb, kernel, geometry, float("-inf")).flatten(-nd)  # (N, C, *out, prod(kernel))
    out, local = windows.max(dim=-1)  # first maximum wins a tie, as in torch; (N, C, *out)
    if unbatched:
        out, local = out.squeeze(0), local.squeeze(0)  # (C, *out)
    return (out, _flat_indices(local, kernel, geometry, x.shape[-nd:])) if return_indices else out


def _avg_pool(
    op: str,
    nd: int,
    x: torch.Tensor,
    kernel_size: Size,
    stride: Size | None,
    padding: Size,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> torch.Tensor:
    kernel, geometry = _geometry(op, x, nd, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a non-zero int or None, got {divisor_override!r}")
    xb, unbatched = _batched(x, nd)
    sums = _windows(xb, kernel, geometry, 0.0).sum(dim=tuple(range(-nd, 0)))  # (N, C, *out)
    divisor = torch.ones((), dtype=torch.long, device=x.device)
    axes = zip(kernel, geometry.stride, geometry.padding, x.shape[-nd:], sums.shape[-nd:])
    for axis, (k, s, (p, _), i, o) in enumerate(axes):
        # Torch clips a window at the end of the right padding; without count_include_pad it also
        # leaves out the padding, so edge windows average over fewer elements.
        start = torch.arange(o, device=x.device) * s - p
        end = (start + k).clamp(max=i + p)
        if not count_include_pad:
            start, end = start.clamp(min=0), end.clamp(max=i)
        divisor = divisor * _along(end - start, axis, nd)  # broadcasts to (*out)
    out = sums / (divisor if divisor_override is None else divisor_override)
    return out.squeeze(0) if unbatched else out  # (C, *out) or (N, C, *out)


def max_pool1d(
    input: torch.Tensor,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """1-D max pooling, as ``torch.nn.functional.max_pool1d``; see :func:`max_pool2d` for the rules.

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)`` floating-point tensor.
        kernel_size: window length ``k``.
        stride: step between windows; ``None`` means ``kernel_size``.
        padding: ``-inf`` added on each side, at most ``k // 2``.
        dilation: spacing between window taps.
        ceil_mode: round the output length up (the last window must start before the right padding).
        return_indices: also return each maximum's position in the input's ``L`` axis.

    Returns:
        the pooled tensor, and the int64 indices if ``return_indices``.

    Shapes:
        ``(N, C, L) -> (N, C, L_out)`` with ``L_out = pool_output_size(L, k, s, p, d, ceil_mode)``.

    >>> max_pool1d(torch.tensor([[[1.0, 3.0, 2.0, 0.0, 5.0]]]), 2)  # max(1, 3), max(2, 0); 5 is left over
    tensor([[[3., 2.]]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    input: torch.Tensor,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    Padding is ``-inf`` so it never wins. The gradient of each output goes to the *first* maximum
    of its window in row-major order, as torch routes it. With ``NaN`` or ``-inf`` in the input the
    values still match torch, but the position picked among equal values may not. A dilated window
    can lie wholly in the padding: its output is ``-inf`` and it passes no gradient back.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)`` floating-point tensor.
        kernel_size: window size ``k`` or ``(kH, kW)``.
        stride: step between windows; ``None`` means ``kernel_size``.
        padding: ``-inf`` added on each side, at most ``kernel_size // 2`` per axis.
        dilation: spacing between window taps; 1 is contiguous.
        ceil_mode: round the output size up, but drop a last window that would start in the right padding.
        return_indices: also return each maximum's index into the flattened ``H * W`` input plane.

    Returns:
        the pooled tensor, and the int64 indices if ``return_indices``.

    Shapes:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``, each axis by :func:`convlib.shapes.pool_output_size`.

    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> max_pool2d(x, 2)  # 5 = max(0, 1, 4, 5): the bottom-right of each 2×2 block
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(
    input: torch.Tensor,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> torch.Tensor:
    """1-D average pooling, as ``torch.nn.functional.avg_pool1d``; see :func:`avg_pool2d` for the rules.

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)`` floating-point tensor.
        kernel_size: window length ``k``.
        stride: step between windows; ``None`` means ``kernel_size``.
        padding: zeros added on each side, at most ``k // 2``.
        ceil_mode: round the output length up (the last window must start before the right padding).
        count_include_pad: count the padding zeros in each window's divisor.

    Returns:
        the pooled tensor.

    Shapes:
        ``(N, C, L) -> (N, C, L_out)`` with ``L_out = pool_output_size(L, k, s, p, 1, ceil_mode)``.

    >>> x = torch.tensor([[[2.0, 4.0, 6.0]]])
    >>> avg_pool1d(x, 2, padding=1, count_include_pad=False)  # 2/1, (4+6)/2: padding not counted
    tensor([[[2., 5.]]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input: torch.Tensor,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> torch.Tensor:
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Each window's sum is divided by the number of positions it covers: input *and* zero padding
    with ``count_include_pad`` (but never past the right padding, which ``ceil_mode`` can reach),
    input only without it, or ``divisor_override`` if given.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)`` floating-point tensor.
        kernel_size: window size ``k`` or ``(kH, kW)``.
        stride: step between windows; ``None`` means ``kernel_size``.
        padding: zeros added on each side, at most ``kernel_size // 2`` per axis.
        ceil_mode: round the output size up, but drop a last window that would start in the right padding.
        count_include_pad: count the padding zeros in each window's divisor.
        divisor_override: if not ``None``, divide every window's sum by this instead.

    Returns:
        the pooled tensor.

    Shapes:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``, each axis by :func:`convlib.shapes.pool_output_size`.

    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> avg_pool2d(x, 2)  # 2.5 = (0 + 1 + 4 + 5) / 4
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    return _avg_pool(
        "avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def global_avg_pool2d(input: torch.Tensor) -> torch.Tensor:
    """Mean over each whole feature map, kept as a 1×1 map like ``nn.AdaptiveAvgPool2d(1)``.

    Keeping the two spatial axes (``keepdim``) means the result still is an image batch, so it can
    feed a 1×1 convolution; call ``.flatten(1)`` to get ``(N, C)`` features for a linear layer.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)`` floating-point tensor.

    Returns:
        the per-channel means.

    Shapes:
        ``(N, C, H, W) -> (N, C, 1, 1)``; ``(C, H, W) -> (C, 1, 1)``.

    >>> global_avg_pool2d(torch.arange(8.0).reshape(1, 2, 2, 2))  # (0+1+2+3)/4, (4+5+6+7)/4
    tensor([[[[1.5000]],
    <BLANKLINE>
             [[5.5000]]]])
    """
    _check_input("global_avg_pool2d", input, 2)
    return input.mean(dim=(-2, -1), keepdim=True)


def global_max_pool2d(input: torch.Tensor) -> torch.Tensor:
    """Maximum over each whole feature map, kept as a 1×1 map like ``nn.AdaptiveMaxPool2d(1)``.

    The gradient goes to the first maximum in row-major order, as in torch.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)`` floating-point tensor.

    Returns:
        the per-channel maxima.

    Shapes:
        ``(N, C, H, W) -> (N, C, 1, 1)``; ``(C, H, W) -> (C, 1, 1)``.

    >>> global_max_pool2d(torch.arange(8.0).reshape(1, 2, 2, 2))  # max(0..3), max(4..7)
    tensor([[[[3.]],
    <BLANKLINE>
             [[7.]]]])
    """
    _check_input("global_max_pool2d", input, 2)
    flat = input.flatten(-2)  # (N, C, H*W)
    return flat.max(dim=-1, keepdim=True).values.unsqueeze(-1)  # (N, C, 1, 1)
