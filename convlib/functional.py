"""The public convolution ops, with the names, signatures, defaults and results of ``torch.nn.functional``.

Each op checks all its arguments first (:mod:`convlib._validate`), pads, then runs one of the
algorithms chosen by ``method=``:

- ``"loops"``: a loop over kernel taps (:mod:`convlib.loops`), the readable reference;
- ``"im2col"``: patches, then one matrix product (:mod:`convlib.im2col`);
- ``"fft"``: the convolution theorem (:mod:`convlib.fft`);
- ``"winograd"``: F(2x2, 3x3), for 3x3 kernels with stride 1 and dilation 1 (:mod:`convlib.winograd`);
- ``"auto"`` (default): the fastest of im2col and fft by :func:`choose_method`'s cost model.

Gradients come from the hand-written backward in :mod:`convlib.autograd`, on the same algorithm.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

from convlib import _validate as check
from convlib import fft, im2col, loops, winograd
from convlib.autograd import apply_conv, apply_conv_transpose
from convlib.im2col import fold, unfold
from convlib.shapes import conv_size, conv_transpose_output_size
from convlib.transposed import Method, Padding, conv_transpose, pad

__all__ = [
    "METHODS",
    "avg_pool1d",
    "avg_pool2d",
    "choose_method",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "fold",
    "global_avg_pool2d",
    "global_max_pool2d",
    "max_pool1d",
    "max_pool2d",
    "unfold",
]

METHODS = ("auto", "loops", "im2col", "fft", "winograd")

# Cost model of "auto", in units of one multiply-add inside im2col's matrix product; measured with
# `python -m convlib.bench` on a 2-core x86 CPU. Copying one entry of the patch matrix costs about
# COPY units (memory-bound); an FFT about FFT_POINT units per point and factor log2(points); mixing
# channels about SPECTRAL_MAC units per complex multiply-add (elementwise, also memory-bound).
COPY = 35.0
FFT_POINT = 10.0
SPECTRAL_MAC = 70.0


def choose_method(x_shape: Sequence[int], w_shape: Sequence[int], stride: Sequence[int]) -> str:
    """The algorithm ``method="auto"`` runs: ``"fft"`` when its estimated cost is lower, else ``"im2col"``.

    im2col costs one multiply-add per kernel tap, output pixel and channel pair, plus copying the
    patch matrix (kernel taps x input channels x output pixels). FFT costs three batches of
    transforms (input, kernel, output), ``~ points * log2(points)`` each, plus one complex
    multiply-add per frequency and channel pair, and does not depend on the kernel size: FFT wins
    for large kernels, and loses for many channels. Stride favours im2col, which computes only the
    strided outputs.

    Args:
        x_shape: padded input shape ``(N, C_in, *size)``.
        w_shape: dilated kernel shape ``(C_out, C_in/groups, *k)``.
        stride: stride per spatial axis.

    Returns:
        ``"fft"`` or ``"im2col"``.

    Shapes:
        shapes in, a name out.

    >>> choose_method((1, 1, 286, 286), (1, 1, 31, 31), (1, 1))  # 1 channel, 31x31 kernel
    'fft'
    >>> choose_method((8, 64, 58, 58), (64, 64, 3, 3), (1, 1))  # 64 channels, 3x3 kernel
    'im2col'
    """
    return _choose(tuple(x_shape), tuple(w_shape), tuple(stride))


@functools.lru_cache(maxsize=1024)
def _choose(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: tuple[int, ...]) -> str:
    """:func:`choose_method`, remembered per shape: a network calls it with the same few shapes."""
    n, c_in, *size = x_shape
    c_out, c_in_g, *kernel = w_shape
    out = math.prod(conv_size(i, k, s) for i, k, s in zip(size, kernel, stride))
    patch_matrix = n * c_in * math.prod(kernel) * out
    direct = n * c_out * c_in_g * out * math.prod(kernel) + COPY * patch_matrix
    points = math.prod(fft.fast_size(i) for i in size)
    transforms = (n * c_in + c_out * c_in_g + n * c_out) * points * math.log2(max(points, 2))
    mixing = n * c_out * c_in_g * points / 2  # a real FFT keeps half the spectrum
    return "fft" if FFT_POINT * transforms + SPECTRAL_MAC * mixing < direct else "im2col"


def _auto(
    x: torch.Tensor, weight: torch.Tensor, stride: Sequence[int], dilation: Sequence[int], groups: int
) -> torch.Tensor:
    dilated = [d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:])]
    name = _choose(tuple(x.shape), (*weight.shape[:2], *dilated), tuple(stride))
    return _METHODS[name].correlate(x, weight, stride, dilation, groups)


def _im2col_transpose(
    x: torch.Tensor,
    weight: torch.Tensor,
    size: Sequence[int],
    stride: Sequence[int],
    padding: Padding,
    dilation: Sequence[int],
    groups: int,
) -> torch.Tensor:
    """im2col's ``conv^T``: by col2im when it has fewer output than input channels, else the generic route.

    col2im's column matrix has ``C_in/G * prod(k)`` rows against the generic route's ``C_out/G * prod(k)``
    (the patches of the padded ``x``), but adds its columns back in ``prod(k)`` passes over the
    image: it wins on the smaller matrix, not on an equal one (S3's input gradient: 2.2x against
    1.6x of ``F.conv2d``'s forward+backward).
    """
    if weight.shape[1] < weight.shape[0] // groups:
        return im2col.transpose(x, weight, size, stride, padding, dilation, groups)
    return conv_transpose(x, weight, size, stride, padding, dilation, groups, im2col.correlate)


def _auto_transpose(
    x: torch.Tensor,
    weight: torch.Tensor,
    size: Sequence[int],
    stride: Sequence[int],
    padding: Padding,
    dilation: Sequence[int],
    groups: int,
) -> torch.Tensor:
    """``"auto"`` 's ``conv^T``: :func:`choose_method` on the correlation that the generic route runs."""
    dilated = [d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:])]
    x_shape = (*x.shape[:2], *(i + k - 1 for i, k in zip(size, dilated)))  # spread, padded by reach per side
    name = _choose(x_shape, (weight.shape[1] * groups, weight.shape[0] // groups, *dilated), (1,) * len(size))
    return _METHODS[name].transpose(x, weight, size, stride, padding, dilation, groups)


_METHODS: dict[str, Method] = {
    "auto": Method(_auto, _auto_transpose),
    "loops": Method.generic(loops.correlate),
    "im2col": Method(im2col.correlate, _im2col_transpose),
    "fft": Method.generic(fft.correlate),
    "winograd": Method.generic(winograd.correlate),
}


def _algorithm(op: str, method: object, args: check.ConvArgs, stride: Sequence[int]) -> Method:
    """The :class:`~convlib.transposed.Method` named ``method``; ``stride`` is that of the correlation run."""
    name = check.choice(method, METHODS, "method", op)
    kernel = args.weight.shape[2:]
    if name == "winograd" and not (args.input.ndim == 4 and winograd.supports(kernel, stride, args.dilation)):
        raise ValueError(
            f"{op}: method='winograd' needs a 2-D 3x3 kernel with stride 1 and dilation 1, got kernel "
            f"{tuple(kernel)}, stride {tuple(stride)}, dilation {args.dilation}"
        )
    return _METHODS[name]


Size = int | Sequence[int]


def _conv(
    n: int,
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Size,
    padding: Size | str,
    dilation: Size,
    groups: int,
    padding_mode: str,
    method: str,
) -> torch.Tensor:
    """What conv1d, conv2d and conv3d share: check, pick the algorithm, pad, run :func:`apply_conv`."""
    op = f"conv{n}d"
    args = check.conv_args(op, n, input, weight, bias, stride, padding, dilation, groups, padding_mode)
    algorithm = _algorithm(op, method, args, args.stride)
    x, padding_ = args.input, args.padding
    if padding_mode != "zeros":
        # explicit padding is ordinary autograd glue; the convolution then runs unpadded
        x, padding_ = pad(x, padding_, padding_mode), ((0, 0),) * n
    y = apply_conv(x, args.weight, args.bias, args.stride, padding_, args.dilation, args.groups, algorithm)
    return y[0] if args.unbatched else y


def conv1d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Size = 1,
    padding: Size | str = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    method: str = "auto",
) -> torch.Tensor:
    """1-D convolution (cross-correlation), as ``torch.nn.functional.conv1d``; see :func:`conv2d`.

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
        weight: ``(C_out, C_in/groups, k)``.
        bias: ``(C_out,)`` or ``None``.
        stride, padding, dilation, groups, padding_mode, method: as in :func:`conv2d`.

    Returns:
        the output signal.

    Shapes:
        ``(N, C_in, L)`` -> ``(N, C_out, floor((L + 2p - d(k-1) - 1)/s) + 1)``.

    >>> conv1d(torch.arange(5.0).view(1, 1, 5), torch.tensor([[[1.0, -1.0]]]))  # x[i] - x[i+1]
    tensor([[[-1., -1., -1., -1.]]])
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups, padding_mode, method)


def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Size = 1,
    padding: Size | str = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    method: str = "auto",
) -> torch.Tensor:
    """2-D convolution (cross-correlation, no kernel flip), exactly as ``torch.nn.functional.conv2d``.

    ``Y[n, o, i, j] = u[o] + sum_{c, a, b} X_pad[n, g*C_in/G + c, i*s + a*d, j*s + b*d] * K[o, c, a, b]``
    where ``g`` is the group of output channel ``o``.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``.
        bias: ``(C_out,)`` or ``None``.
        stride: step between output positions, an int or ``(sH, sW)``.
        padding: per side, an int, ``(pH, pW)``, ``"valid"`` (no padding) or ``"same"`` (output
            size = input size; needs stride 1; an odd total puts the extra pixel after).
        dilation: spacing between kernel taps; 1 is contiguous.
        groups: split channels into this many independent groups.
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``, as in ``nn.Conv2d``.
        method: one of :data:`METHODS`.

    Returns:
        the output feature map.

    Shapes:
        ``(N, C_in, H, W)`` -> ``(N, C_out, oH, oW)`` with ``oH = floor((H + 2p - d(kH-1) - 1)/s) + 1``.

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> conv2d(x, torch.ones(1, 1, 3, 3), stride=2, padding=1)  # 3x3 sums centred on rows/cols 0 and 2
    tensor([[[[10., 24.],
              [51., 90.]]]])
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, padding_mode, method)


def conv3d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Size = 1,
    padding: Size | str = 0,
    dilation: Size = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    method: str = "auto",
) -> torch.Tensor:
    """3-D convolution (cross-correlation), as ``torch.nn.functional.conv3d``; see :func:`conv2d`.

    Args:
        input: ``(N, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``.
        weight: ``(C_out, C_in/groups, kD, kH, kW)``.
        bias: ``(C_out,)`` or ``None``.
        stride, padding, dilation, groups, padding_mode, method: as in :func:`conv2d`, per axis.

    Returns:
        the output volume.

    Shapes:
        ``(N, C_in, D, H, W)`` -> ``(N, C_out, oD, oH, oW)``.

    >>> conv3d(torch.ones(1, 1, 3, 4, 5), torch.ones(1, 1, 2, 2, 2)).shape  # 8 taps, (3-1, 4-1, 5-1)
    torch.Size([1, 1, 2, 3, 4])
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups, padding_mode, method)


def _conv_transpose(
    n: int,
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Size,
    padding: Size,
    output_padding: Size,
    groups: int,
    dilation: Size,
    method: str,
) -> torch.Tensor:
    """What the transposed convolutions share: check, pick the algorithm, run :func:`apply_conv_transpose`."""
    op = f"conv_transpose{n}d"
    args = check.conv_transpose_args(op, n, input, weight, bias, stride, padding, output_padding, groups, dilation)
    # conv^T correlates the stride-spread input with stride 1 (see convlib.transposed)
    algorithm = _algorithm(op, method, args, (1,) * n)
    x, w = args.input, args.weight
    terms = zip(x.shape[2:], w.shape[2:], args.stride, args.padding, args.output_padding, args.dilation)
    size = [conv_transpose_output_size(i, k, s, p, o, d) for i, k, s, (p, _), o, d in terms]
    y = apply_conv_transpose(
        args.input, args.weight, args.bias, size, args.stride, args.padding, args.dilation, args.groups, algorithm
    )
    return y[0] if args.unbatched else y


def conv_transpose1d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Size = 1,
    padding: Size = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    method: str = "auto",
) -> torch.Tensor:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``; see :func:`conv_transpose2d`.

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
        weight: ``(C_in, C_out/groups, k)``.
        bias: ``(C_out,)`` or ``None``.
        stride, padding, output_padding, groups, dilation, method: as in :func:`conv_transpose2d`.

    Returns:
        the output signal.

    Shapes:
        ``(N, C_in, L)`` -> ``(N, C_out, (L-1)s - 2p + d(k-1) + output_padding + 1)``.

    >>> conv_transpose1d(torch.ones(1, 1, 2), torch.ones(1, 1, 3), stride=2)  # two kernels, overlapping once
    tensor([[[1., 1., 2., 1., 1.]]])
    """
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups, dilation, method)


def conv_transpose2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Size = 1,
    padding: Size = 0,
    output_padding: Size = 0,
    groups: int = 1,
    dilation: Size = 1,
    *,
    method: str = "auto",
) -> torch.Tensor:
    """2-D transposed convolution, exactly as ``torch.nn.functional.conv_transpose2d``.

    It is the gradient of :func:`conv2d` w.r.t. its input: each input pixel stamps a copy of the
    kernel, scaled by its value, onto the output at ``stride`` spacing, and overlaps add up. All
    arguments describe the *direct* convolution that maps the output's shape back to the input's.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_in, C_out/groups, kH, kW)``, torch's layout (in channels first).
        bias: ``(C_out,)`` or ``None``.
        stride: the direct convolution's stride, i.e. the upsampling factor.
        padding: the direct convolution's per-side padding, cropped from the output.
        output_padding: extra rows/columns at the bottom/right, ``< stride`` or ``< dilation``; picks
            one of the input sizes that the direct convolution maps to the same size.
        groups: number of channel groups.
        dilation: spacing between kernel taps.
        method: one of :data:`METHODS`, for the correlation inside.

    Returns:
        the output feature map.

    Shapes:
        ``(N, C_in, H, W)`` -> ``(N, C_out, (H-1)s - 2p + d(kH-1) + output_padding + 1, ...)``.

    >>> conv_transpose2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), stride=2)  # 4 disjoint stamps
    tensor([[[[1., 1., 1., 1.],
              [1., 1., 1., 1.],
              [1., 1., 1., 1.],
              [1., 1., 1., 1.]]]])
    """
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups, dilation, method)


# Pooling lives in its own module; it is re-exported so that convlib.functional mirrors torch's namespace.
from convlib.pooling import (  # noqa: E402
    avg_pool1d,
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool1d,
    max_pool2d,
)
