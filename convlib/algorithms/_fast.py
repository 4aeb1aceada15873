"""The speed tuning of im2col, FFT and the bias, kept apart from the readable algorithms it must equal.

The ops in :mod:`convlib.functional` run these versions (:data:`~convlib.algorithms.registry.FAST`),
except inside ``with`` :func:`~convlib.algorithms.registry.plain`; learners read :mod:`~convlib.algorithms.im2col`,
:mod:`~convlib.algorithms.fft` and :func:`~convlib.algorithms.autograd.add_bias`. The tests
(``tests/test_fast.py``) check that every branch here returns the same numbers as the plain peer,
at 1, 2 and 4 threads. The ops call them only where that is safe: inside the hand-written
``autograd.Function`` s or with nothing to differentiate, so that no autograd graph ever sees their
in-place writes, and the result never shares memory with a reused buffer.

What is tuned, and why (measured on a 2-core x86 CPU):

- **Reused buffers** (:func:`scratch`). A fresh multi-megabyte allocation is returned to the
  operating system when freed, and costs a page fault per 4 KiB when touched again, on every call.
  The padded input, the patch matrix and the spectrum products go into per-thread buffers instead,
  kept up to :data:`SLOT_BYTES` each and :data:`SCRATCH_BYTES` in all; a larger temporary is
  allocated for one call and freed.
- **The batch in chunks** (``_chunks``): padding and patches of a few images at a time (a multiple
  of the thread count where they fit), so they fit in the kept buffers and are still warm in cache
  when the matrix product reads them. The buffer sizes are module attributes, so a test can lower
  them to split a small batch.
- **Few output pixels** (the weight gradient, whose "kernel" is ``grad_y``): rows and columns swap,
  for one long product per group.
- **conv^T by col2im** (:func:`im2col_transpose`) when the layer has fewer input than output channels,
  so the column matrix ``K^T @ x`` is the smaller one.
- **FFT**: the small kernel is transformed axis by axis before its zero rows exist, and channels mix
  one at a time into a reused buffer, or by one matrix product per frequency when there are many.
- **The bias** (:func:`add_bias`): added in place into the fresh result, or together with the copy
  that makes a cropped result contiguous.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence

import torch

from convlib.algorithms.adjoint import conv_transpose
from convlib.algorithms.fft import fast_size
from convlib.algorithms.grid import col2im, patches, spread, trailing
from convlib.geometry import Geometry, Padding
from convlib.shapes import conv_size

#: The bytes of buffers kept between calls, per thread, in all.
SCRATCH_BYTES = 32 << 20
#: The largest buffer kept for one kind of temporary; the batch is split so that its patches fit.
SLOT_BYTES = 16 << 20
# _mix multiplies spectra by one matrix product per frequency from this many input channels per group
# and this many frequencies on; below either, by a loop over input channels
MIX_CHANNELS, MIX_FREQUENCIES = 16, 4096
_workspace = threading.local()  # per thread: {(slot, device, dtype): buffer}, filled on first use


def scratch(shape: Sequence[int], like: torch.Tensor, slot: str) -> torch.Tensor:
    """A buffer for a temporary, with the dtype and device of ``like``, reused between calls when small.

    Each ``slot`` names one kind of temporary (``"cols"``, ``"pad"``, ...) and keeps one buffer per
    thread, grown to the largest size asked for, while all slots together stay within
    :data:`SCRATCH_BYTES`; a larger request gets a fresh tensor that is freed with its last use. Its
    contents are undefined, and it stays valid only until the next request for the same slot: never
    return it, or save it for backward.

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
    held = buffers.get(key)
    if held is None or held.numel() < numel:
        others = sum(b.numel() * b.element_size() for k, b in buffers.items() if k != key)
        size = numel * like.element_size()
        if size > SLOT_BYTES or others + size > SCRATCH_BYTES:
            return like.new_empty(shape)  # too large to keep
        with torch.inference_mode(False):  # an inference tensor could not be written outside inference mode
            held = buffers[key] = like.new_empty(numel)
    return held[:numel].view(*shape)  # (*shape), a view of the head of the buffer


def release_scratch() -> None:
    """Free this thread's :func:`scratch` buffers.

    Returns:
        nothing; the next convolution allocates afresh.

    >>> release_scratch()
    """
    _workspace.__dict__.pop("buffers", None)


def add_bias(y: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """:func:`convlib.algorithms.autograd.add_bias`, tuned: in place, or with the layout copy in one pass.

    The ops call it only on a correlation's fresh result, inside the hand-written ``autograd.Function``
    or with nothing to differentiate, so no autograd graph sees the in-place write.
    """
    if bias is None:
        return y.contiguous()  # algorithms may return a cropped view; callers expect torch's layout
    b = bias.view(-1, *[1] * (y.ndim - 2))  # (C_out, 1, ..., 1) broadcasts over space
    if y.is_contiguous():
        return y.add_(b)
    return torch.add(y, b, out=y.new_empty(y.shape))  # the layout copy and the bias in one pass


def _contiguous(view: torch.Tensor, slot: str) -> torch.Tensor:
    """Copy a strided view into a :func:`scratch` buffer, as a contiguous tensor of the same shape."""
    return scratch(view.shape, view, slot).copy_(view)


def _pad(x: torch.Tensor, padding: Padding) -> torch.Tensor:
    """Zero padding into the ``"pad"`` :func:`scratch` buffer; negative amounts crop, as in ``grid.pad``."""
    flat = [p for pair in padding for p in pair]
    if not any(flat):
        return x
    if min(flat) < 0:  # crop first, then pad what is left
        x = x[trailing(slice(max(-a, 0), i - max(-b, 0)) for i, (a, b) in zip(x.shape[2:], padding))]
        padding = [(max(a, 0), max(b, 0)) for a, b in padding]
    size = [i + a + b for i, (a, b) in zip(x.shape[2:], padding)]
    out = scratch((*x.shape[:2], *size), x, "pad").zero_()  # (N, C, *padded)
    out[trailing(slice(a, a + i) for i, (a, _) in zip(x.shape[2:], padding))] = x
    return out


def _chunks(n: int, bytes_per_image: int, device: torch.device) -> Iterator[slice]:
    """Slices of the batch whose patch matrices fit in the kept buffers beside the padded input.

    The fewest chunks that fit, all of one size but the last, which holds what is left (10 images
    with room for 3: 3, 3, 3 and 1). A chunk holds a multiple of the thread count where it can: the
    batched product shares a chunk among the threads image by image, so each gets as many; an image
    too large for the buffers is a chunk alone.
    """
    fit = max(1, SLOT_BYTES // max(bytes_per_image, 1))
    threads = torch.get_num_threads() if device.type == "cpu" else 1
    step = -(-n // -(-n // fit))  # ceil(n / chunks) with chunks = ceil(n / fit): no more chunks than needed
    if threads <= step < n:
        step += -step % threads if step + -step % threads <= fit else -(step % threads)
    return (slice(i, min(i + step, n)) for i in range(0, n, step))


def im2col_correlate(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """:func:`convlib.algorithms.im2col.correlate`, tuned: the same numbers, less time and memory."""
    n, groups = x.shape[0], geometry.groups
    c_out, c_in_g, *kernel = weight.shape
    padded = [i + a + b for i, (a, b) in zip(x.shape[2:], geometry.padding)]
    out = [conv_size(i, k, s, 0, d) for i, k, s, d in zip(padded, kernel, geometry.stride, geometry.dilation)]
    taps, pixels = c_in_g * math.prod(kernel), math.prod(out)
    w = weight if weight.is_contiguous() else _contiguous(weight, "kernel")  # grad_y arrives permuted
    w = w.view(groups, c_out // groups, taps)  # (groups, C_out/groups, C_in/groups*kH*kW)
    few = pixels < math.prod(kernel)
    y = x.new_empty(n, groups, pixels, c_out // groups) if few else x.new_empty(n, c_out, pixels)  # (N, ...)
    image_bytes = x.element_size() * groups * taps * pixels
    for part in _chunks(n, image_bytes, x.device):
        padded_part = _pad(x[part], geometry.padding)  # (n, C_in, *padded)
        view = patches(padded_part, kernel, geometry.stride, geometry.dilation)  # (n, C_in, *k, *out)
        if few:
            _few_pixels(view, w, y[part])
        else:
            _layer(view, w, y[part])
    if few:  # (N, groups, L, C_out/groups) -> (N, C_out, L)
        return y.permute(0, 1, 3, 2).reshape(n, c_out, *out)
    return y.view(n, c_out, *out)  # (N, C_out, *out)


def _layer(view: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> None:
    """``y = K @ cols``, one product per image and group.

    ``view`` is :func:`~convlib.algorithms.grid.patches`' ``(n, C_in, *k, *out)``, ``w`` the kernel as
    ``(groups, C_out/groups, taps)``, and ``y`` the ``(n, C_out, L)`` slice of the result to write.
    """
    n = view.shape[0]
    groups, per_group, taps = w.shape
    cols = _contiguous(view, "cols").view(n, groups, taps, -1)  # (n, groups, C_in/groups*kH*kW, L)
    target = y.view(n, groups, per_group, -1)  # (n, groups, C_out/groups, L)
    # one image is a plain batched product: matmul's broadcasting costs more than a small layer's compute
    if n == 1:
        torch.bmm(w, cols[0], out=target[0])
    else:
        torch.matmul(w, cols, out=target)


def _few_pixels(view: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> None:
    """im2col with the output pixels on the rows and the images with them: one long product per group.

    With the long axis innermost the copy still runs along contiguous image rows; this is the weight
    gradient's case, whose "kernel" is ``grad_y`` and whose output is the small kernel. ``view`` is
    :func:`~convlib.algorithms.grid.patches`' ``(n, C_in, *k, *out)`` and ``y`` the
    ``(n, groups, L, C_out/groups)`` slice of the result to write.
    """
    n, c_in, *rest = view.shape
    groups, c_out_g, taps = w.shape
    nk = len(rest) // 2
    view = view.unflatten(1, (groups, c_in // groups))  # (n, groups, C_in/groups, *k, *out)
    k_axes, o_axes = range(3, 3 + nk), range(3 + nk, view.ndim)
    cols = _contiguous(view.permute(1, 0, *o_axes, 2, *k_axes), "cols").view(groups, -1, taps)  # (groups, n*L, taps)
    y.copy_((cols @ w.mT).view(groups, n, -1, c_out_g).transpose(0, 1))  # (n, groups, L, C_out/groups)


def im2col_transpose(x: torch.Tensor, weight: torch.Tensor, size: Sequence[int], geometry: Geometry) -> torch.Tensor:
    """im2col's ``conv^T``: by col2im when it has fewer output than input channels, else the generic route.

    The adjoint of ``y = K @ cols`` is ``cols' = K^T @ x``: each column of ``cols'`` holds what one
    output position sends back to the taps of its patch, and col2im adds them up in place; stride
    and dilation only move where columns land. Its column matrix has ``C_in/groups * prod(k)`` rows
    against the generic route's ``C_out/groups * prod(k)``, but it adds its columns back in ``prod(k)``
    passes over the image: it wins on the smaller matrix, not on an equal one (S3's input gradient:
    2.2x against 1.6x of ``F.conv2d``'s forward+backward).
    """
    groups = geometry.groups
    if weight.shape[1] >= weight.shape[0] // groups:
        return conv_transpose(x, weight, size, geometry, im2col_correlate)
    n, c_out, *out = x.shape
    _, c_in_g, *kernel = weight.shape
    taps = c_in_g * math.prod(kernel)
    w = weight.reshape(groups, c_out // groups, taps).mT.contiguous()  # (groups, C_in/groups*k, C_out/groups)
    cols = w @ x.reshape(n, groups, c_out // groups, math.prod(out))  # (N, groups, C_in/groups*k, L)
    padded = [i + a + b for i, (a, b) in zip(size, geometry.padding)]
    blocks = cols.view(n, groups * c_in_g, *kernel, *out)  # (N, C_in, *k, *out)
    image = col2im(blocks, padded, geometry.stride, geometry.dilation)  # (N, C_in, *padded)
    return image[trailing(slice(a, a + i) for i, (a, _) in zip(size, geometry.padding))]  # (N, C_in, *size)


def fft_correlate(x: torch.Tensor, weight: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """:func:`convlib.algorithms.fft.correlate`, tuned: the same numbers, less time and memory."""
    x = _pad(x, geometry.padding)  # (N, C_in, *padded)
    size = x.shape[2:]
    c_out, c_in_g = weight.shape[:2]
    groups, axes = geometry.groups, tuple(range(2, x.ndim))
    flipped = spread(weight, geometry.dilation).flip(axes)  # (C_out, C_in/groups, *k_eff)
    length = [fast_size(i) for i in size]
    xg = torch.fft.rfftn(x, s=length, dim=axes).unflatten(1, (groups, c_in_g))  # (N, groups, C_in/groups, *F)
    wg = _rfftn_small(flipped, length)  # (C_out, C_in/groups, *F)
    wg = wg.unflatten(0, (groups, c_out // groups))  # (groups, C_out/groups, C_in/groups, *F)
    y = torch.fft.irfftn(_mix(xg, wg).flatten(1, 2), s=length, dim=axes)  # (N, C_out, *length)
    valid = (slice(k - 1, i, s) for i, k, s in zip(size, flipped.shape[2:], geometry.stride))
    return y[trailing(valid)]  # (N, C_out, *out), a strided view of y


def _mix(xg: torch.Tensor, wg: torch.Tensor) -> torch.Tensor:
    """``Y_o = sum_c X_c * W_oc`` at every frequency, within each group of channels.

    ``xg`` is ``(N, groups, C_in/groups, *F)``, ``wg`` ``(groups, C_out/groups, C_in/groups, *F)``.

    With many channels and a long spectrum, one complex matrix product per frequency wins (L1:
    3.3 against 11.8 ms for the loop); otherwise the loop over input channels, which multiplies into
    a reused buffer, moves less memory than the transposes the products need (S3: 40 against 58 ms).
    """
    n, _, c_in_g, *freqs = xg.shape
    if c_in_g >= MIX_CHANNELS and math.prod(freqs) >= MIX_FREQUENCIES:
        xa = xg.flatten(3).permute(1, 3, 0, 2).contiguous()  # (groups, F, N, C_in/groups)
        wa = wg.flatten(3).permute(0, 3, 2, 1).contiguous()  # (groups, F, C_in/groups, C_out/groups)
        return (xa @ wa).permute(2, 0, 3, 1).reshape(n, *wg.shape[:2], *freqs)  # (N, groups, C_out/groups, *F)
    spectrum_y = xg[:, :, None, 0] * wg[:, :, 0]  # (N, groups, C_out/groups, *F)
    product = scratch(spectrum_y.shape, spectrum_y, "spectrum")
    for c in range(1, c_in_g):
        spectrum_y += torch.mul(xg[:, :, None, c], wg[:, :, c], out=product)
    return spectrum_y


def _rfftn_small(w: torch.Tensor, length: Sequence[int]) -> torch.Tensor:
    """``rfftn(w, s=length)`` over the spatial axes, for a kernel much smaller than ``length``.

    Transforming the last axis first, while the kernel still has only ``k`` rows, skips the
    transforms of the rows that zero-padding would add; the result is identical. Each further
    axis is moved last before its transform, because FFTs along a strided axis are slow.
    """
    spectrum = torch.fft.rfft(w, n=length[-1], dim=-1)  # (C_out, C_in/groups, *k[:-1], F_last)
    for axis, n in zip(range(2, w.ndim - 1), length[:-1]):
        moved = spectrum.movedim(axis, -1).contiguous()  # this axis last, in memory too
        spectrum = torch.fft.fft(moved, n=n, dim=-1).movedim(-1, axis)
    return spectrum
