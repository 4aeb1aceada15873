"""Upsampling with convolutions: overlap counts, a checkerboard measure, and sub-pixel convolution.

A stride-``s`` transposed convolution stamps one copy of its kernel per input pixel, ``s`` pixels
apart. Where the stamps overlap unevenly the output inherits a period-``s`` pattern, the
*checkerboard artifact* of Odena et al. (Distill, 2016):

- :func:`overlap_count` counts the stamps covering each output pixel (the transposed convolution
  of ones with a kernel of ones);
- :func:`checkerboard_energy` measures how much of an image's variation is period-``s`` pattern;
- :func:`subpixel_weight` and :func:`conv_transpose2d_subpixel` compute the same transposed
  convolution as an ordinary convolution followed by ``pixel_shuffle`` (Shi et al., 2016), with
  the kernel split into its ``s * s`` phases.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from convlib.algorithms.grid import pad
from convlib.functional import conv2d, conv_transpose2d
from convlib.geometry import ntuple
from convlib.shapes import conv_transpose_output_size

Pair = tuple[int, int]


def overlap_count(
    size: int | Pair,
    kernel_size: int | Pair,
    stride: int | Pair,
    padding: int | Pair = 0,
    output_padding: int | Pair = 0,
) -> torch.Tensor:
    """How many kernel stamps of a transposed convolution cover each output pixel.

    Every input pixel stamps the kernel onto the output, so with an input and a kernel of ones
    the transposed convolution counts the stamps (Odena et al., 2016). Uneven counts are the
    checkerboard pattern that any roughly constant input inherits.

    Args:
        size: input size ``i`` or ``(H, W)``.
        kernel_size: ``k`` or ``(kH, kW)``.
        stride: ``s``, the upsampling factor.
        padding: the direct convolution's per-side padding, cropped from the output.
        output_padding: extra rows/columns at the bottom/right, below ``stride``.

    Returns:
        a float tensor of counts.

    Shapes:
        ``(H_out, W_out)``, as :func:`convlib.shapes.conv_transpose_output_size`.

    >>> overlap_count((1, 4), (1, 3), stride=(1, 2))  # k = 3, s = 2: every other column gets two stamps
    tensor([[1., 1., 2., 1., 2., 1., 2., 1., 1.]])
    """
    op = "overlap_count"
    named = ((size, "size"), (kernel_size, "kernel_size"), (stride, "stride"), (padding, "padding"))
    i, k, s, p = (ntuple(v, 2, name, op) for v, name in named)
    o = ntuple(output_padding, 2, "output_padding", op)
    for axis in range(2):  # raises on impossible sizes, naming the argument
        if conv_transpose_output_size(i[axis], k[axis], s[axis], p[axis], o[axis]) < 1:
            raise ValueError(f"{op}: padding {p} leaves no output for size {i}, kernel_size {k}, stride {s}")
    ones = torch.ones(1, 1, *i, dtype=torch.float64)  # (N, C_in, H, W)
    stamp = torch.ones(1, 1, *k, dtype=torch.float64)  # (C_in, C_out, kH, kW)
    # loops sums exact small integers; an FFT would leave rounding noise on the counts
    y = conv_transpose2d(ones, stamp, stride=s, padding=p, output_padding=o, method="loops")  # (1, 1, H_out, W_out)
    return y[0, 0].float()


def checkerboard_energy(image: torch.Tensor, stride: int) -> float:
    """The fraction of an image's non-constant energy that repeats with period ``stride``.

    A pattern of period ``s`` along both axes has its discrete Fourier transform on the frequencies
    ``(a H/s, b W/s)``; this measures the power there, without the constant term, over all power
    without the constant term. By Parseval it equals the energy of the mean ``s x s`` tile (the
    average over all tiles, less the image mean) over the energy of the image less its mean. Nearest
    neighbour upsampling by ``s`` scores exactly 0; a pure checkerboard scores 1.

    Args:
        image: one or more images; leading axes (batch, channel) are summed over.
        stride: the period ``s``; must divide ``H`` and ``W``.

    Returns:
        a number in ``[0, 1]`` (0 for a constant image).

    Shapes:
        ``(..., H, W)`` -> scalar.

    >>> round(checkerboard_energy(torch.tensor([[1.0, 0.0], [0.0, 1.0]]).repeat(4, 4), 2), 6)  # a checkerboard
    1.0
    """
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"checkerboard_energy: stride must be a positive int, got {stride!r}")
    if image.ndim < 2 or image.shape[-2] % stride or image.shape[-1] % stride:
        raise ValueError(f"checkerboard_energy: stride {stride} must divide the image's H and W, got {image.shape}")
    h, w = image.shape[-2:]
    power = torch.fft.fft2(image.double()).abs().square()  # (..., H, W)
    periodic = torch.zeros(h, w, dtype=torch.bool)
    periodic[:: h // stride, :: w // stride] = True  # the frequencies of a period-s pattern
    periodic[0, 0] = False  # the mean is not a pattern
    total = power.sum() - power[..., 0, 0].sum()
    return 0.0 if total <= 0 else float(power[..., periodic].sum() / total)


def _phase_taps(k: int, r: int, p: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per axis: kernel tap used by phase ``a`` at sub-kernel offset ``u``, whether it exists, and ``n_max``."""
    # output r*m + a gets x[m - n] * K[r*n + a + p]; n runs over every n where some phase has a tap
    # (the k + r - 1 values r*n + a + p, a < r, always hold a multiple of r, so n_max >= n_min)
    n_max = (k - 1 - p) // r
    n_min = -((r - 1 + p) // r)
    u = torch.arange(n_max - n_min + 1)  # correlation offset u = n_max - n
    taps = r * (n_max - u)[None, :] + torch.arange(r)[:, None] + p  # (r, k')
    return taps.clamp(0, k - 1), (taps >= 0) & (taps < k), n_max


def subpixel_weight(weight: torch.Tensor, stride: int, padding: int = 0) -> tuple[torch.Tensor, Pair]:
    """Rearrange a transposed-convolution kernel into the kernel of a sub-pixel convolution.

    Output pixel ``r*m + a`` of a stride-``r`` transposed convolution (padding ``p``) receives
    ``x[m - n] * K[r*n + a + p]``: phase ``a`` of the output is an ordinary convolution of ``x``
    with the taps ``K[a + p], K[a + p + r], ...`` read backwards. Stacking the ``r * r`` phases as
    output channels, in ``pixel_shuffle``'s order ``c*r*r + a*r + b``, gives one convolution.

    Args:
        weight: transposed-convolution kernel, torch's layout (in channels first); groups 1, dilation 1.
        stride: the upsampling factor ``r``, the same along both axes (as ``pixel_shuffle``).
        padding: the transposed convolution's ``padding``.

    Returns:
        the correlation kernel, and the rows/columns of zeros to pad on the top/left of the input
        (negative crops).

    Shapes:
        ``(C_in, C_out, kH, kW)`` -> ``(C_out*r*r, C_in, kH', kW')``, ``kH' ~ ceil(kH / r)``.

    >>> w, first = subpixel_weight(torch.arange(3.0).view(1, 1, 1, 3), stride=2)  # a 1x3 kernel: taps 0, 1, 2
    >>> w[:, 0, 0], first  # phases (a, b): (0, 0) reads taps 2, 0; (0, 1) tap 1; row phase a = 1 has no tap
    (tensor([[2., 0.],
            [0., 1.],
            [0., 0.],
            [0., 0.]]), (0, 1))
    """
    if weight.ndim != 4:
        raise ValueError(f"subpixel_weight: weight must be (C_in, C_out, kH, kW), got shape {tuple(weight.shape)}")
    if not isinstance(stride, int) or stride < 1 or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"subpixel_weight: stride must be >= 1 and padding >= 0, got {stride!r}, {padding!r}")
    c_in, c_out, kh, kw = weight.shape
    (th, vh, fh), (tw, vw, fw) = _phase_taps(kh, stride, padding), _phase_taps(kw, stride, padding)
    w = weight[:, :, th[:, :, None, None], tw[None, None, :, :]]  # (C_in, C_out, r, kH', r, kW')
    w = w * (vh[:, :, None, None] & vw[None, None, :, :])  # phases that miss the kernel read zeros
    w = w.permute(1, 2, 4, 0, 3, 5)  # (C_out, r_a, r_b, C_in, kH', kW')
    return w.reshape(c_out * stride * stride, c_in, th.shape[1], tw.shape[1]), (fh, fw)  # (C_out*r*r, C_in, kH', kW')


def conv_transpose2d_subpixel(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
) -> torch.Tensor:
    """``conv_transpose2d``, computed as a convolution followed by ``pixel_shuffle``.

    Args:
        input: ``(N, C_in, H, W)``.
        weight: ``(C_in, C_out, kH, kW)``; groups 1, dilation 1.
        bias: ``(C_out,)`` or ``None``.
        stride: the upsampling factor, the same along both axes.
        padding: the direct convolution's per-side padding.
        output_padding: extra rows/columns at the bottom/right, below ``stride``.

    Returns:
        the same tensor as ``torch.nn.functional.conv_transpose2d`` with these arguments.

    Shapes:
        ``(N, C_in, H, W)`` -> ``(N, C_out, (H-1)s - 2p + kH + output_padding, ...)``.

    >>> x, w = torch.randn(1, 2, 5, 5), torch.randn(2, 3, 4, 4)
    >>> y = conv_transpose2d_subpixel(x, w, stride=2, padding=1)  # (5 - 1)*2 - 2 + 4 = 10
    >>> y.shape, torch.allclose(y, F.conv_transpose2d(x, w, stride=2, padding=1), atol=1e-5)
    (torch.Size([1, 3, 10, 10]), True)
    """
    if input.ndim != 4:
        raise ValueError(f"conv_transpose2d_subpixel: input must be (N, C_in, H, W), got {tuple(input.shape)}")
    sub, first = subpixel_weight(weight, stride, padding)
    sizes = [
        conv_transpose_output_size(i, k, stride, padding, output_padding)
        for i, k in zip(input.shape[2:], weight.shape[2:])
    ]
    if min(sizes) < 1:
        raise ValueError(f"conv_transpose2d_subpixel: padding {padding} leaves no output, got sizes {sizes}")
    # enough low-resolution positions m to cover the output once shuffled: ceil(size / r)
    margins = [(f, -(-n // stride) - i - f + k - 1) for f, n, i, k in zip(first, sizes, input.shape[2:], sub.shape[2:])]
    b = None if bias is None else bias.repeat_interleave(stride * stride)  # one bias per phase channel
    y = conv2d(pad(input, margins), sub, b)  # (N, C_out*r*r, ceil(H_out/r), ceil(W_out/r))
    y = F.pixel_shuffle(y, stride)  # (N, C_out, r*ceil(H_out/r), r*ceil(W_out/r))
    return y[..., : sizes[0], : sizes[1]]  # (N, C_out, H_out, W_out)
