"""Dependency masks: the exact set of input pixels one unit of a network depends on.

:func:`convlib.receptive_field.receptive_field` gives the extent of a unit's field; inside it, a
stack of dilated layers can leave holes (the *gridding* of Wang et al., "Understanding Convolution
for Semantic Segmentation", WACV 2018), and a decoder's upsampling layers map one input pixel to
several outputs. :func:`dependency_mask` follows both, one axis at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from convlib import _validate as check
from convlib.receptive_field import Spec, _as_layer, _flatten

# Upsampling layers: an output unit depends on the input units that its kernel stamps (transposed
# convolution) or that it copies (nearest-neighbour resizing). receptive_field's recurrence has no
# fractional jump, so only dependency_mask reads them.
_UPSAMPLING: dict[type[nn.Module], int] = {nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2}


def _axis_maps(name: str, layer: Spec, nd: int) -> list[tuple[int, Any]] | None:
    """Per axis ``(kind, parameters)`` of one layer for :func:`dependency_mask`; ``None`` if pointwise."""
    op = f"dependency_mask ({name})"
    if isinstance(layer, nn.Upsample):
        factor: Any = layer.scale_factor
        factors = tuple(factor) if isinstance(factor, tuple) else (factor,) * nd
        if layer.mode != "nearest" or factor is None or any(float(f) != int(f) or f < 1 for f in factors):
            raise ValueError(f"{op}: only nn.Upsample(scale_factor=int, mode='nearest') is supported, got {layer!r}")
        return [(1, int(f)) for f in factors]
    if isinstance(layer, tuple(_UPSAMPLING)):
        module: Any = layer
        fields = (module.kernel_size, module.stride, module.padding, module.dilation, module.output_padding)
        return [(2, per_axis) for per_axis in zip(*(check.ntuple(f, nd, "geometry", op) for f in fields))]
    spec, _ = _as_layer(name, layer)
    if spec is None:
        return None
    if getattr(layer, "ceil_mode", False):
        raise ValueError(f"{op}: ceil_mode pooling is not supported")
    k, s, p, d = (
        check.ntuple(f, nd, "geometry", op) for f in (spec.kernel_size, spec.stride, spec.padding, spec.dilation)
    )
    same = getattr(layer, "padding", None) == "same"  # torch puts the odd extra pixel on the right
    return [(0, (ki, si, pi, di, di * (ki - 1) - pi if same else pi)) for ki, si, pi, di in zip(k, s, p, d)]


def _out_size(kind: int, params: Any, size: int) -> int:
    if kind == 0:  # a window: kernel, stride, left and right padding, dilation
        k, s, p, d, right = params
        return (size + p + right - d * (k - 1) - 1) // s + 1
    if kind == 1:  # nearest-neighbour upsampling by an integer factor
        return size * params
    k, s, p, d, extra = params  # a transposed convolution
    return (size - 1) * s - 2 * p + d * (k - 1) + extra + 1


def _inputs(kind: int, params: Any, q: int) -> list[int]:
    """Positions of a layer's input that its output position ``q`` reads, before clipping to the input."""
    if kind == 0:
        k, s, p, d, _ = params
        return [q * s - p + d * t for t in range(k)]
    if kind == 1:
        return [q // params]  # torch's nearest: floor(q * in / out)
    k, s, p, d, _ = params  # input m reaches output m * s - p + d * t
    return [(q + p - d * t) // s for t in range(k) if (q + p - d * t) % s == 0]


def dependency_mask(
    layers: Iterable[Spec] | nn.Sequential, input_size: int | tuple[int, ...], unit: int | tuple[int, ...]
) -> torch.Tensor:
    """Which input pixels one output unit of a stack depends on: its receptive field, holes and borders included.

    :func:`~convlib.receptive_field.receptive_field` gives the extent of a field; this gives its exact
    set. Walking down from the unit, each layer maps a set of its output positions to the input
    positions it reads: a window (convolution or pooling, dilation included) reads ``q s - p + d t``
    for every tap ``t``, a transposed convolution reads every ``m`` with ``q = m s - p + d t``, and
    nearest-neighbour upsampling by ``f`` reads ``floor(q / f)``. Positions outside a layer's input are padding, not
    units, and are dropped. Every kernel is a rectangle, so the 2-D set is the product of the sets of
    the two axes. With positive weights and no cancellation, a pixel is in the mask exactly when the
    unit's gradient is non-zero there (the tests check it); trained weights can only remove pixels.

    Args:
        layers: :class:`~convlib.receptive_field.Layer` specs and/or modules, or an ``nn.Sequential``, as
            for :func:`~convlib.receptive_field.receptive_field`, plus ``nn.ConvTranspose1d/2d`` and
            ``nn.Upsample(scale_factor=f, mode="nearest")`` with an integer ``f``.
        input_size: the input's spatial size, an int for 1-D or ``(H, W)``.
        unit: the output unit's position, one index per axis (negative indices count from the end).

    Returns:
        a boolean tensor of the input's spatial shape, True where the unit depends on the pixel.

    Raises:
        ValueError: for a unit outside the output, or an upsampling layer other than the above.

    Shapes:
        ``input_size`` -> a (H, W) (or (L,)) boolean mask.

    >>> from convlib.receptive_field import Layer
    >>> mask = dependency_mask([Layer(3, padding=2, dilation=2)] * 2, 9, 4)  # two 3-tap layers of dilation 2
    >>> mask.int().tolist()  # offsets -4, -2, 0, 2, 4 around pixel 4: the odd pixels are never seen
    [1, 0, 1, 0, 1, 0, 1, 0, 1]
    """
    sizes = (input_size,) if isinstance(input_size, int) else tuple(input_size)
    units = (unit,) if isinstance(unit, int) else tuple(unit)
    nd = len(sizes)
    if len(units) != nd or not all(isinstance(v, int) and not isinstance(v, bool) for v in (*sizes, *units)):
        raise ValueError(
            f"dependency_mask: input_size and unit must be ints, one per axis, got {input_size!r}, {unit!r}"
        )
    maps = [m for name, layer in _flatten(layers) if (m := _axis_maps(name, layer, nd)) is not None]
    shapes = [sizes]  # the spatial size of each layer's input, then the output
    for per_axis in maps:
        shapes.append(tuple(_out_size(kind, params, n) for (kind, params), n in zip(per_axis, shapes[-1])))
    if not all(-n <= u < n for u, n in zip(units, shapes[-1])):
        raise ValueError(f"dependency_mask: unit {units} is outside the output of size {shapes[-1]}")
    reached = [{u % n} for u, n in zip(units, shapes[-1])]  # per axis, the positions reached so far
    for per_axis, below in zip(reversed(maps), reversed(shapes[:-1])):
        reached = [
            {i for q in axis for i in _inputs(kind, params, q) if 0 <= i < n}
            for axis, (kind, params), n in zip(reached, per_axis, below)
        ]
    mask = torch.zeros(sizes, dtype=torch.bool)
    mask[torch.meshgrid(*(torch.tensor(sorted(a), dtype=torch.long) for a in reached), indexing="ij")] = True
    return mask
