"""Argument checks shared by the public ops.

Every check raises ``TypeError`` or ``ValueError`` *before* any compute, and the message names the
argument, what was expected and what was given, e.g.::

    ValueError: conv2d: stride must be positive integers, got (0, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from convlib.geometry import Geometry, non_negative, ntuple, positive
from convlib.shapes import conv_transpose_size


def tensor(x: object, name: str, op: str) -> torch.Tensor:
    """Require a floating-point ``torch.Tensor``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def ndim(x: torch.Tensor, allowed: tuple[int, ...], name: str, op: str, shape_hint: str) -> None:
    """Require ``x.ndim`` to be one of ``allowed``; ``shape_hint`` says the layout, e.g. ``(N, C, H, W)``."""
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{op}: {name} must be {want} {shape_hint}, got {x.ndim}-D shape {tuple(x.shape)}")


def same_dtype_device(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str], op: str) -> None:
    """Require two tensors to share dtype and device; torch would fail later with a cryptic message."""
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: {names[1]} dtype must match {names[0]} dtype {a.dtype}, got {b.dtype}")
    if a.device != b.device:
        raise ValueError(f"{op}: {names[1]} must be on {names[0]}'s device {a.device}, got {b.device}")


# ------------------------------------------------------------------ convolution arguments
# One function per family of ops (conv, conv_transpose, unfold/fold) checks everything up front and
# returns the arguments normalised, so the algorithms never see an int where they expect a tuple.
# (Pooling checks its own in convlib.pooling, with the window rules that only pooling has.)


class ConvArgs(NamedTuple):
    """Checked, normalised arguments of a (transposed) convolution; ``input`` is always batched."""

    input: torch.Tensor  # (N, C_in, *spatial)
    weight: torch.Tensor  # conv: (C_out, C_in/groups, *k); transposed: (C_in, C_out/groups, *k)
    bias: torch.Tensor | None  # (C_out,)
    geometry: Geometry
    output_padding: tuple[int, ...]  # all zero for a direct convolution
    unbatched: bool  # the caller passed (C, *spatial); the result drops N again


def choice(value: object, allowed: Sequence[str], name: str, op: str) -> str:
    """Require ``value`` to be one of the strings in ``allowed`` (padding_mode, method, ...)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{op}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _tensors(
    op: str, n: int, input: object, weight: object, bias: object, weight_layout: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, bool]:
    """Types, dtype, device and ndim of ``input``, ``weight`` and ``bias``; returns a batched input."""
    x, w = tensor(input, "input", op), tensor(weight, "weight", op)
    same_dtype_device(x, w, ("input", "weight"), op)
    ndim(x, (n + 1, n + 2), "input", op, f"(N, C, {_SPATIAL[n]})")
    ndim(w, (n + 2,), "weight", op, f"({weight_layout}, {_SPATIAL[n]})")
    b = None
    if bias is not None:
        b = tensor(bias, "bias", op)
        same_dtype_device(x, b, ("input", "bias"), op)
        ndim(b, (1,), "bias", op, "(C_out,)")
    unbatched = x.ndim == n + 1
    return (x.unsqueeze(0) if unbatched else x), w, b, unbatched


def _groups(op: str, groups: object, c_in: int, c_out: int) -> int:
    """``groups`` must be a positive int that divides both channel counts."""
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{op}: groups must be an int, got {type(groups).__name__} {groups!r}")
    positive((groups,), "groups", op)
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"{op}: groups must divide both in_channels and out_channels, got groups={groups} "
            f"with in_channels={c_in}, out_channels={c_out}"
        )
    return groups


def _channels(op: str, given: int, expected: int, expected_text: str) -> None:
    if given != expected:
        raise ValueError(f"{op}: input channels must equal {expected_text} = {expected}, got {given}")


def _bias(op: str, bias: torch.Tensor | None, c_out: int) -> None:
    if bias is not None and bias.shape[0] != c_out:
        raise ValueError(f"{op}: bias must have shape (C_out,) = ({c_out},), got {tuple(bias.shape)}")


def _padding(
    op: str, padding: object, n: int, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]
) -> tuple[tuple[int, int], ...]:
    """Per-axis ``(before, after)`` pairs from an int, a tuple, ``"valid"`` or ``"same"``."""
    if isinstance(padding, str):
        choice(padding, ("valid", "same"), "padding", op)
        if padding == "valid":
            return ((0, 0),) * n
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride={stride}")
        # torch puts the odd pixel of an even kernel's padding after (right/bottom), not before
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in total)
    pads = non_negative(ntuple(padding, n, "padding", op), "padding", op)
    return tuple((p, p) for p in pads)


def conv_args(
    op: str,
    n: int,
    input: object,
    weight: object,
    bias: object,
    stride: object,
    padding: object,
    dilation: object,
    groups: object,
    padding_mode: object = "zeros",
) -> ConvArgs:
    """Check every argument of ``conv{n}d`` as torch does, before any compute, and normalise them.

    Raises:
        TypeError: a non-tensor, non-float or mismatched-dtype argument, or a badly typed tuple.
        ValueError: any other invalid value; the message names the argument.
    """
    x, w, b, unbatched = _tensors(op, n, input, weight, bias, "C_out, C_in/groups")
    groups_ = _groups(op, groups, x.shape[1], w.shape[0])
    _channels(op, x.shape[1], w.shape[1] * groups_, "weight.shape[1] * groups")
    _bias(op, b, w.shape[0])
    stride_ = positive(ntuple(stride, n, "stride", op), "stride", op)
    dilation_ = positive(ntuple(dilation, n, "dilation", op), "dilation", op)
    kernel = tuple(w.shape[2:])
    pads = _padding(op, padding, n, kernel, stride_, dilation_)
    mode = choice(padding_mode, ("zeros", "reflect", "replicate", "circular"), "padding_mode", op)
    size = tuple(x.shape[2:])
    padded = tuple(i + p0 + p1 for i, (p0, p1) in zip(size, pads))
    if any(p < d * (k - 1) + 1 for p, k, d in zip(padded, kernel, dilation_)):
        raise ValueError(
            f"{op}: kernel size (dilated) must not exceed the padded input size, got kernel {kernel} "
            f"with dilation {dilation_} and padded input size {padded}"
        )
    # F.pad's limits: a reflection needs an inner neighbour, a wrap-around at most one period
    limit = {"reflect": 1, "circular": 0}.get(mode)
    if limit is not None and any(max(p) > i - limit for i, p in zip(size, pads)):
        raise ValueError(f"{op}: padding {pads} is too large for padding_mode={mode!r} and input size {size}")
    return ConvArgs(x, w, b, Geometry(stride_, pads, dilation_, groups_), (0,) * n, unbatched)


def conv_transpose_args(
    op: str,
    n: int,
    input: object,
    weight: object,
    bias: object,
    stride: object,
    padding: object,
    output_padding: object,
    groups: object,
    dilation: object,
) -> ConvArgs:
    """Check the arguments of ``conv_transpose{n}d``, whose ``weight`` is ``(C_in, C_out/groups, *k)``.

    Raises:
        TypeError, ValueError: as :func:`conv_args`.
    """
    x, w, b, unbatched = _tensors(op, n, input, weight, bias, "C_in, C_out/groups")
    groups_ = _groups(op, groups, w.shape[0], w.shape[1] * groups if isinstance(groups, int) else 0)
    _channels(op, x.shape[1], w.shape[0], "weight.shape[0]")
    _bias(op, b, w.shape[1] * groups_)
    stride_ = positive(ntuple(stride, n, "stride", op), "stride", op)
    dilation_ = positive(ntuple(dilation, n, "dilation", op), "dilation", op)
    pads = non_negative(ntuple(padding, n, "padding", op), "padding", op)
    out_pad = non_negative(ntuple(output_padding, n, "output_padding", op), "output_padding", op)
    if any(o >= s and o >= d for o, s, d in zip(out_pad, stride_, dilation_)):
        raise ValueError(
            f"{op}: output_padding must be smaller than either stride or dilation, got output_padding="
            f"{out_pad} with stride={stride_} and dilation={dilation_}"
        )
    terms = zip(x.shape[2:], w.shape[2:], stride_, pads, out_pad, dilation_)
    out = tuple(conv_transpose_size(*t) for t in terms)
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: padding {pads} is too large, the output size would be {out}")
    geometry = Geometry(stride_, tuple((p, p) for p in pads), dilation_, groups_)
    return ConvArgs(x, w, b, geometry, out_pad, unbatched)


def fold_args(
    op: str, kernel_size: object, dilation: object, padding: object, stride: object
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The four size arguments of ``unfold`` and ``fold``, checked and normalised to pairs.

    Raises:
        TypeError, ValueError: as :func:`conv_args`.
    """
    kernel = positive(ntuple(kernel_size, 2, "kernel_size", op), "kernel_size", op)
    dil = positive(ntuple(dilation, 2, "dilation", op), "dilation", op)
    per_side = non_negative(ntuple(padding, 2, "padding", op), "padding", op)
    step = positive(ntuple(stride, 2, "stride", op), "stride", op)
    return kernel, dil, per_side, step
