"""The public convolution ops, with the names, signatures, defaults and results of ``torch.nn.functional``.

Each op checks all its arguments first (:mod:`convlib._validate`), then runs one of the algorithms
in :mod:`convlib.algorithms`, chosen by ``method=``:

- ``"loops"``: a loop over kernel taps, the readable reference;
- ``"im2col"``: patches, then one matrix product;
- ``"fft"``: the convolution theorem;
- ``"winograd"``: F(2x2, 3x3), for 3x3 kernels with stride 1 and dilation 1;
- ``"auto"`` (default): im2col or fft, by :func:`~convlib.algorithms.registry.choose_method`'s cost model.

Gradients come from the hand-written backward in :mod:`convlib.algorithms.autograd`, on the same
algorithm. The ops run tuned versions of im2col and FFT; inside ``with``
:func:`~convlib.algorithms.registry.plain` they run the plain functions that the chapters show.

``unfold``/``fold`` and the pooling ops live in their own modules and are re-exported here, so that
this module mirrors torch's namespace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from convlib import _validate as check
from convlib.algorithms import winograd
from convlib.algorithms.autograd import apply_conv, apply_conv_transpose
from convlib.algorithms.grid import pad
from convlib.algorithms.registry import METHODS, Method, resolve
from convlib.folding import fold, unfold
from convlib.geometry import Size
from convlib.pooling import avg_pool1d, avg_pool2d, global_avg_pool2d, global_max_pool2d, max_pool1d, max_pool2d
from convlib.shapes import conv_transpose_size

__all__ = [
    "METHODS",
    "avg_pool1d",
    "avg_pool2d",
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


def _algorithm(op: str, method: object, args: check.ConvArgs, stride: Sequence[int]) -> Method:
    """The algorithm named ``method``; ``stride`` is that of the correlation it will run."""
    name = check.choice(method, METHODS, "method", op)
    kernel = args.weight.shape[2:]
    if name == "winograd" and not (args.input.ndim == 4 and winograd.supports(kernel, stride, args.geometry.dilation)):
        raise ValueError(
            f"{op}: method='winograd' needs a 2-D 3x3 kernel with stride 1 and dilation 1, got kernel "
            f"{tuple(kernel)}, stride {tuple(stride)}, dilation {args.geometry.dilation}"
        )
    return resolve(name)


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
    """What conv1d, conv2d and conv3d share: check, pick the algorithm, run :func:`apply_conv`."""
    op = f"conv{n}d"
    args = check.conv_args(op, n, input, weight, bias, stride, padding, dilation, groups, padding_mode)
    geometry = args.geometry
    algorithm = _algorithm(op, method, args, geometry.stride)
    x = args.input
    if padding_mode != "zeros":
        # explicit padding is ordinary autograd glue; the convolution then runs unpadded
        x = pad(x, geometry.padding, padding_mode)
        geometry = dataclasses.replace(geometry, padding=((0, 0),) * n)
    y = apply_conv(x, args.weight, args.bias, geometry, algorithm)
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

    ``Y[n, o, i, j] = u[o] + sum_{c, a, b} X_pad[n, q*C_in/groups + c, i*s + a*d, j*s + b*d] * K[o, c, a, b]``
    where ``q = o // (C_out/groups)`` is the group of output channel ``o``.

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
        method: one of :data:`~convlib.algorithms.registry.METHODS`.

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
    # conv^T correlates the stride-spread input with stride 1 (see convlib.algorithms.adjoint)
    algorithm = _algorithm(op, method, args, (1,) * n)
    x, w, geometry = args.input, args.weight, args.geometry
    terms = zip(x.shape[2:], w.shape[2:], geometry.stride, geometry.padding, args.output_padding, geometry.dilation)
    size = [conv_transpose_size(i, k, s, p, o, d) for i, k, s, (p, _), o, d in terms]
    y = apply_conv_transpose(x, w, args.bias, size, geometry, algorithm)
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
        output_padding: extra rows/columns at the bottom/right, ``< max(stride, dilation)``; picks
            one of the input sizes that the direct convolution maps to the same size.
        groups: number of channel groups.
        dilation: spacing between kernel taps.
        method: one of :data:`~convlib.algorithms.registry.METHODS`, for the correlation inside.

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
