"""im2col: convolution as one matrix product, plus ``unfold`` (im2col) and ``fold`` (col2im).

Every output pixel of a convolution is a dot product of the kernel with one patch of the padded
input. Lay the patches out as the columns of a matrix ``cols`` of shape ``(C_in*kH*kW, L)``, where
``L`` counts output pixels, and the whole convolution becomes the single product
``K.view(C_out, C_in*kH*kW) @ cols``, which BLAS runs near the machine's peak.

Building ``cols`` is the costly part. :func:`patches` gets all patches *without copying*: an
``as_strided`` view whose strides step through the input twice, once per kernel tap and once per
output pixel. A single ``copy_`` then turns that view into a contiguous matrix, in a buffer that
is reused from call to call: :func:`scratch`. (A fresh multi-megabyte allocation is returned to the
operating system when freed, and costs a page fault per 4 KiB when touched again, on every call.)

Two measured details keep it within 2x of ``torch.nn.functional.conv2d`` on a 2-core CPU. Each
thread should multiply the patches it copied itself, so a single image gets one copy of the patch
matrix per thread (:func:`copies`). And the transposed convolution (the input gradient) runs as
col2im, ``K^T @ x`` then :func:`col2im`, when that matrix is the smaller one (:func:`transpose`).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterable, Sequence

import torch

from convlib import _validate as check
from convlib.loops import trailing, window
from convlib.shapes import conv_size

DUPLICATE_BYTES = 8 << 20  # copies() duplicates patch matrices only up to this size in all
_workspace = threading.local()  # per thread: {(slot, device, dtype): buffer}, filled on first use


def scratch(shape: Sequence[int], like: torch.Tensor, slot: str) -> torch.Tensor:
    """A reusable buffer for a temporary, with the dtype and device of ``like``.

    Each ``slot`` names one kind of temporary (``"cols"``, ``"pad"``, ...) and keeps one buffer per
    thread, grown to the largest size asked for. Its contents are undefined, and it stays valid only
    until the next request for the same slot: never return it, or save it for backward.

    Args:
        shape: shape of the temporary.
        like: a tensor with the wanted dtype and device.
        slot: which temporary.

    Returns:
        an uninitialised contiguous tensor of ``shape``.

    Shapes:
        ``shape``.

    >>> a = scratch((2, 3), torch.zeros(1), "doc")
    >>> a.data_ptr() == scratch((3, 2), torch.zeros(1), "doc").data_ptr()  # same memory, reused
    True
    """
    buffers: dict[tuple[str, torch.device, torch.dtype], torch.Tensor] = _workspace.__dict__.setdefault("buffers", {})
    key, numel = (slot, like.device, like.dtype), math.prod(shape)
    if key not in buffers or buffers[key].numel() < numel:
        with torch.inference_mode(False):  # an inference tensor could not be written outside inference mode
            buffers[key] = like.new_empty(numel)
    return buffers[key][:numel].view(*shape)  # (*shape), a view of the head of the buffer


def release_scratch() -> None:
    """Free this thread's :func:`scratch` buffers (they otherwise keep their largest size).

    Returns:
        nothing; the next convolution allocates afresh.

    Shapes:
        none.

    >>> release_scratch()
    """
    _workspace.__dict__.pop("buffers", None)


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
        a read-only view of ``x``; copy it before writing.

    Shapes:
        ``(N, C, *size)`` -> ``(N, C, *kernel, *out)``.

    >>> patches(torch.arange(5.0).view(1, 1, 5), kernel=(2,), stride=(2,), dilation=(1,))[0, 0]
    tensor([[0., 2.],
            [1., 3.]])
    """
    n, c, *size = x.shape
    out = [conv_size(i, k, s, 0, d) for i, k, s, d in zip(size, kernel, stride, dilation)]
    sn, sc, *step = x.stride()
    tap_strides = [st * d for st, d in zip(step, dilation)]
    pixel_strides = [st * s for st, s in zip(step, stride)]
    return x.as_strided((n, c, *kernel, *out), (sn, sc, *tap_strides, *pixel_strides), x.storage_offset())


def correlate(
    x: torch.Tensor, weight: torch.Tensor, stride: Sequence[int], dilation: Sequence[int], groups: int
) -> torch.Tensor:
    """Cross-correlate an already padded input with a kernel as one matrix product per group.

    When the output is larger than the kernel (layers), each column of ``cols`` is one output
    pixel's patch, ``(C_in/G*kH*kW, L)`` per image and group, and ``y = K @ cols``. When the kernel
    is larger (the weight gradient, whose "kernel" is ``grad_y``), rows and columns swap: with the
    long axis innermost the ``copy_`` still runs along contiguous image rows, and the batch joins
    the rows, for one long product ``y^T = cols @ K^T`` per group.

    Args:
        x: padded input.
        weight: kernel, ``(C_out, C_in/groups, *k)``.
        stride: step between output positions, per spatial axis.
        dilation: spacing between kernel taps, per spatial axis.
        groups: number of channel groups; each group is its own matrix product.

    Returns:
        the correlation, without bias.

    Shapes:
        ``x: (N, C_in, *size)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_out, *out)``.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> correlate(x, torch.ones(1, 1, 2, 2), stride=(2, 2), dilation=(1, 1), groups=1)  # 2x2 block sums
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    n = x.shape[0]
    c_out, c_in_g, *kernel = weight.shape
    view = patches(x, kernel, stride, dilation)  # (N, C_in, *k, *out)
    out = view.shape[2 + len(kernel) :]
    taps, pixels = c_in_g * math.prod(kernel), math.prod(out)
    w = weight if weight.is_contiguous() else _contiguous(weight, "kernel")  # grad_y arrives permuted
    w = w.view(groups, c_out // groups, taps)  # (G, C_out/G, C_in/G*kH*kW)
    if pixels >= math.prod(kernel):
        size = x.element_size() * n * groups * taps * pixels  # bytes of cols
        parts = copies(n * groups, c_out // groups, size, x.device)
        return _layer(view, w, parts)
    # few output pixels: put them on the rows, and the batch with them, for one long product per group
    view = view.unflatten(1, (groups, c_in_g))  # (N, G, C_in/G, *k, *out)
    k_axes, o_axes = range(3, 3 + len(kernel)), range(3 + len(kernel), view.ndim)
    cols = _contiguous(view.permute(1, 0, *o_axes, 2, *k_axes), "cols")  # (G, N, *out, C_in/G, *k)
    y = cols.view(groups, n * pixels, taps) @ w.mT  # (G, N*L, C_out/G)
    return y.view(groups, n, pixels, -1).permute(1, 0, 3, 2).reshape(n, c_out, *out)  # (N, C_out, *out)


def copies(products: int, rows: int, cols_bytes: int, device: torch.device) -> int:
    """How many copies of the patch matrix :func:`correlate` makes, to give every CPU thread its own.

    A batched matrix product hands whole products (one per image and group) to threads, and the
    parallel copy that builds ``cols`` splits it into contiguous chunks in the same order, so
    each thread multiplies the patches it copied itself, still in its own cache. With fewer
    products than threads, a product is shared: each thread would read what another one copied,
    through the slower shared cache, which costs more than the copy itself (0.24 against 0.17 ms
    for S1 on a 2-core machine). Instead, each thread gets its own copy of the patches and a slice
    of the output channels. Copies are cheap for small matrices only, so they stop at 8 MiB in all.

    Args:
        products: independent matrix products, ``N * groups``.
        rows: output channels per group; the copies split them, so the count divides it.
        cols_bytes: size of one patch matrix for all products.
        device: where the work runs; a GPU gains nothing from copies.

    Returns:
        the number of copies (1: no duplication).

    Shapes:
        scalars.

    >>> copies(32, 32, 2**20, torch.device("cpu"))  # 32 images: enough products already
    1
    >>> copies(1, 16, 2**20, torch.device("cpu")) in (1, 2, 4, 8)  # 1 image: divides 16, at most 8 MiB in all
    True
    """
    threads = torch.get_num_threads() if device.type == "cpu" else 1
    if products >= threads:
        return 1
    want = min(-(-threads // products), DUPLICATE_BYTES // max(cols_bytes, 1), rows)  # ceil(threads / products)
    return next((c for c in range(want, 1, -1) if rows % c == 0), 1)


def _layer(view: torch.Tensor, w: torch.Tensor, parts: int) -> torch.Tensor:
    """``y = K @ cols``, one product per image, group and part of the output channels (:func:`copies`).

    ``view`` is :func:`patches`' ``(N, C_in, *k, *out)`` and ``w`` the kernel as ``(G, C_out/G, taps)``.
    """
    n, c_in, *rest = view.shape
    out = rest[len(rest) // 2 :]
    groups, per_group, taps = w.shape
    view = view.view(n, groups, 1, c_in // groups, *rest)  # (N, G, 1, C_in/G, *k, *out)
    view = view.expand(n, groups, parts, *view.shape[3:])  # (N, G, P, C_in/G, *k, *out): P views of the same
    cols = _contiguous(view, "cols").view(n, groups * parts, taps, -1)  # (N, G*P, C_in/G*kH*kW, L)
    w = w.view(groups * parts, per_group // parts, taps)  # (G*P, C_out/(G*P), taps)
    # one image is a plain batched product: matmul's broadcasting costs more than a small layer's compute
    y = torch.bmm(w, cols[0]) if n == 1 else w @ cols  # (N, G*P, C_out/(G*P), L), N dropped if 1
    return y.view(n, groups * per_group, *out)  # (N, C_out, *out)


def _contiguous(view: torch.Tensor, slot: str) -> torch.Tensor:
    """Copy a strided view into a :func:`scratch` buffer, as a contiguous tensor of the same shape."""
    return scratch(view.shape, view, slot).copy_(view)


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
    kernel, dil, pad, step = _fold_args(op, kernel_size, dilation, padding, stride)
    size = [i + 2 * p for i, p in zip(x.shape[-2:], pad)]
    if any(i < d * (k - 1) + 1 for i, k, d in zip(size, kernel, dil)):
        raise ValueError(f"{op}: kernel_size {kernel} (dilation {dil}) exceeds the padded input size {tuple(size)}")
    batched = x if x.ndim == 4 else x.unsqueeze(0)  # (N, C, H, W)
    padded = torch.nn.functional.pad(batched, [p for p in reversed(pad) for _ in range(2)])  # (N, C, H+2p, W+2p)
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
    kernel, dil, pad, step = _fold_args(op, kernel_size, dilation, padding, stride)
    batched = cols if cols.ndim == 3 else cols.unsqueeze(0)  # (N, C*kH*kW, L)
    taps = math.prod(kernel)
    padded = [i + 2 * p for i, p in zip(size, pad)]
    out = [conv_size(i, k, s, 0, d) for i, k, s, d in zip(padded, kernel, step, dil)]
    if batched.shape[1] % taps or batched.shape[2] != math.prod(out) or min(out) < 1:
        raise ValueError(
            f"{op}: input must have shape (N, C*{taps}, {math.prod(out)}) for output_size {size}, "
            f"kernel_size {kernel}, got {tuple(cols.shape)}"
        )
    n, c = batched.shape[0], batched.shape[1] // taps
    image = col2im(batched.view(n, c, *kernel, *out), padded, step, dil)  # (N, C, H + 2p, W + 2p)
    image = image[..., pad[0] : pad[0] + size[0], pad[1] : pad[1] + size[1]]  # (N, C, H, W)
    return image if cols.ndim == 3 else image[0]


def col2im(
    blocks: torch.Tensor, size: Sequence[int], stride: Sequence[int], dilation: Sequence[int]
) -> torch.Tensor:
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
    taps: Iterable[tuple[int, ...]] = itertools.product(*(range(k) for k in kernel))
    for tap in taps:
        # tap (a, b, ...) of every patch lands on the same strided window it was read from
        index: tuple[slice | int, ...] = (slice(None), slice(None), *tap)  # blocks[:, :, a, b, ...]
        image[trailing(window(tap, stride, dilation, out))] += blocks[index]
    return image


def transpose(
    x: torch.Tensor,
    weight: torch.Tensor,
    size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    groups: int,
) -> torch.Tensor:
    """The transposed convolution by col2im: one matrix product, then :func:`col2im`.

    The adjoint of ``y = K @ cols`` is ``cols' = K^T @ x``: each column of ``cols'`` holds what one
    output position sends back to the taps of its patch, and :func:`col2im` adds them up in place.
    Stride and dilation only move where columns land, so unlike the generic route
    (:func:`convlib.transposed.conv_transpose`) nothing multiplies the zeros of a spread input.

    Args:
        x: input of the transposed convolution, shaped like a convolution's output.
        weight: the convolution's kernel.
        size: spatial size of the result (without padding).
        stride, padding, dilation, groups: of the convolution; ``padding`` as ``(before, after)``.

    Returns:
        ``conv^T(x, K)``.

    Shapes:
        ``x: (N, C_out, *o)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_in, *size)``.

    >>> transpose(torch.ones(1, 1, 2), torch.ones(1, 1, 3), [5], [2], [(0, 0)], [1], 1)
    tensor([[[1., 1., 2., 1., 1.]]])
    """
    n, c_out, *out = x.shape
    _, c_in_g, *kernel = weight.shape
    taps = c_in_g * math.prod(kernel)
    w = weight.reshape(groups, c_out // groups, taps).mT.contiguous()  # (G, C_in/G*k, C_out/G)
    cols = w @ x.reshape(n, groups, c_out // groups, math.prod(out))  # (N, G, C_in/G*k, L)
    padded = [i + a + b for i, (a, b) in zip(size, padding)]
    image = col2im(cols.view(n, groups * c_in_g, *kernel, *out), padded, stride, dilation)  # (N, C_in, *padded)
    return image[trailing(slice(a, a + i) for i, (a, _) in zip(size, padding))]  # (N, C_in, *size)


def _fold_args(
    op: str, kernel_size: object, dilation: object, padding: object, stride: object
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Normalise the four size arguments shared by :func:`unfold` and :func:`fold`."""
    kernel = check.positive(check.ntuple(kernel_size, 2, "kernel_size", op), "kernel_size", op)  # type: ignore[arg-type]
    dil = check.positive(check.ntuple(dilation, 2, "dilation", op), "dilation", op)  # type: ignore[arg-type]
    pad = check.non_negative(check.ntuple(padding, 2, "padding", op), "padding", op)  # type: ignore[arg-type]
    step = check.positive(check.ntuple(stride, 2, "stride", op), "stride", op)  # type: ignore[arg-type]
    return kernel, dil, pad, step
