"""Receptive fields: which input pixels each unit of a convolutional network can see.

Per spatial axis, a stack of convolution and pooling layers maps one output unit to a window of the
input whose size, spacing between neighbouring units (the *jump*) and centre follow a recurrence over
the layers. Its forward form, below, is equivalent to the closed form of Araujo, Norris & Sim,
"Computing Receptive Fields of Convolutional Neural Networks", Distill 2019.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from torch import nn

from convlib import _validate as check


@dataclass(frozen=True)
class Layer:
    """A convolution or pooling layer, reduced to what the receptive field depends on.

    An int applies to every spatial axis; a tuple gives one value per axis (``(kH, kW)``).
    Channels, weights and the pooling kind (max or average) do not change the receptive field.

    >>> Layer((1, 7), padding=(0, 3), name="1x7")  # Inception's factorised kernel: one row, seven columns
    Layer(kernel_size=(1, 7), stride=1, padding=(0, 3), dilation=1, name='1x7')
    """

    kernel_size: int | tuple[int, ...]
    stride: int | tuple[int, ...] = 1
    padding: int | tuple[int, ...] = 0
    dilation: int | tuple[int, ...] = 1
    name: str = ""


@dataclass(frozen=True)
class RFLayer:
    """The receptive field after one layer, one entry per spatial axis.

    Output unit ``i`` (per axis) sees the input positions centred on ``start + i * jump``, spanning
    ``size`` positions; positions are input pixel indices, so ``start`` may be negative (padding) or
    a half-integer (even kernels). A dilated kernel's field has holes, but ``size`` is its full extent.

    >>> rf = receptive_field([Layer(3, stride=2)])[0]
    >>> [rf.start[0] + i * rf.jump[0] for i in range(3)]  # unit i sees pixels i*2 .. i*2 + 2, centred on 1 + 2i
    [1.0, 3.0, 5.0]
    """

    name: str
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...]


#: Modules whose output at a position reads the input at that position only (BatchNorm with its running
#: statistics, in eval mode): the receptive field passes through them unchanged, and
#: :class:`convlib.course.streaming.Streamer` runs them on a chunk with no context. Norms whose
#: statistics span positions (GroupNorm, InstanceNorm, BatchNorm in training mode) read the whole map.
POSITIONWISE: tuple[type[nn.Module], ...] = (
    nn.Identity,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardswish,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
)
_WINDOWED: dict[type[nn.Module], int] = {  # module type -> number of spatial axes
    nn.Conv1d: 1,
    nn.Conv2d: 2,
    nn.Conv3d: 3,
    nn.MaxPool1d: 1,
    nn.MaxPool2d: 2,
    nn.AvgPool1d: 1,
    nn.AvgPool2d: 2,
}
Spec = Layer | nn.Module


def _flatten(layers: Iterable[Spec] | nn.Sequential, prefix: str = "") -> Iterator[tuple[str, Spec]]:
    """Yield ``(name, layer)`` pairs, descending into nested ``nn.Sequential`` blocks."""
    items = layers.named_children() if isinstance(layers, nn.Sequential) else enumerate(layers)
    for key, layer in items:
        name = f"{prefix}{key}"
        if isinstance(layer, nn.Sequential):
            yield from _flatten(layer, prefix=f"{name}.")
        elif isinstance(layer, Layer):
            yield layer.name or name, layer
        else:
            yield f"{name}:{type(layer).__name__}", layer


def _as_layer(name: str, layer: Spec) -> tuple[Layer | None, int | None]:
    """Return the layer's geometry (``None`` for a position-wise one) and its fixed axis count, if it has one."""
    if isinstance(layer, Layer):
        dims = {
            len(f) for f in (layer.kernel_size, layer.stride, layer.padding, layer.dilation) if isinstance(f, tuple)
        }
        if len(dims) > 1:
            raise ValueError(f"receptive_field: {name} mixes per-axis tuples of lengths {sorted(dims)}")
        return layer, dims.pop() if dims else None
    if isinstance(layer, POSITIONWISE):
        return None, None
    kind = next((t for t in _WINDOWED if isinstance(layer, t)), None)
    if kind is None:
        raise TypeError(
            f"receptive_field: {name} is not a conv, pooling or position-wise layer; "
            f"expected a Layer or one of {[t.__name__ for t in (*_WINDOWED, *POSITIONWISE)]}"
        )
    nd = _WINDOWED[kind]
    module: Any = layer  # every type in _WINDOWED has kernel_size, stride and padding; convs also dilation
    k, d = check.ntuple(module.kernel_size, nd, "kernel_size", name), getattr(module, "dilation", 1)
    padding = module.padding
    if padding == "valid":
        padding = 0
    elif padding == "same":  # torch puts the odd leftover on the right, so the left side gets the floor
        padding = tuple(di * (ki - 1) // 2 for ki, di in zip(k, check.ntuple(d, nd, "dilation", name)))
    return Layer(k, module.stride, padding, d, name), nd


def receptive_field(layers: Iterable[Spec] | nn.Sequential, ndim: int | None = None) -> list[RFLayer]:
    """Receptive field size, jump and start after each layer of a stack.

    Per axis, with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d``, starting from a single
    input pixel (``r = 1``, ``j = 1``, ``start = 0``)::

        j_out = j * s
        r_out = r + d(k - 1) * j
        start_out = start + (d(k - 1) / 2 - p) * j

    Args:
        layers: :class:`Layer` specs and/or modules, or an ``nn.Sequential`` (nested ones are walked).
            ``nn.Conv1d/2d/3d``, ``nn.MaxPool1d/2d``, ``nn.AvgPool1d/2d`` (and convlib.nn's subclasses)
            are read; position-wise modules (:data:`POSITIONWISE`: ReLU, BatchNorm, Dropout, ...) pass
            the field through.
        ndim: number of spatial axes. ``None`` infers it from the modules and per-axis tuples, and
            uses 1 when every spec is a plain int.

    Returns:
        one :class:`RFLayer` per layer, position-wise ones included, in order; nested ``nn.Sequential``
        blocks are expanded and their layers named by path (``"1.0:BatchNorm2d"``).

    Raises:
        TypeError: for a module that is not a conv, pooling or position-wise layer.
        ValueError: for non-positive kernel/stride/dilation, negative padding, or disagreeing axis counts.

    Shapes:
        every ``RFLayer`` field is a tuple of ``ndim`` entries.

    >>> [rf.size for rf in receptive_field([Layer(3), Layer(3), Layer(3)])]  # 3, 3 + 2, 5 + 2
    [(3,), (5,), (7,)]
    >>> receptive_field([Layer(3, stride=2), Layer(3, stride=2)])[-1]  # size 3 + 2*2, jump 2*2, start 1 + 1*2
    RFLayer(name='1', size=(7,), jump=(4,), start=(3.0,))
    """
    if ndim is not None and (isinstance(ndim, bool) or not isinstance(ndim, int) or ndim < 1):
        raise ValueError(f"receptive_field: ndim must be a positive int or None, got {ndim!r}")
    named = [(name, *_as_layer(name, layer)) for name, layer in _flatten(layers)]
    dims = {nd for _, _, nd in named if nd is not None} | ({ndim} if ndim is not None else set())
    if len(dims) > 1:
        raise ValueError(f"receptive_field: layers disagree on the number of axes, got {sorted(dims)}")
    nd = dims.pop() if dims else 1
    size, jump, start = (1,) * nd, (1,) * nd, (0.0,) * nd
    result = []
    for name, layer, _ in named:
        if layer is not None:
            op = f"receptive_field ({name})"
            k = check.positive(check.ntuple(layer.kernel_size, nd, "kernel_size", op), "kernel_size", op)
            s = check.positive(check.ntuple(layer.stride, nd, "stride", op), "stride", op)
            p = check.non_negative(check.ntuple(layer.padding, nd, "padding", op), "padding", op)
            d = check.positive(check.ntuple(layer.dilation, nd, "dilation", op), "dilation", op)
            span = tuple(di * (ki - 1) for ki, di in zip(k, d))  # extent of the kernel minus one
            start = tuple(st + (sp / 2 - pi) * j for st, sp, pi, j in zip(start, span, p, jump))
            size = tuple(r + sp * j for r, sp, j in zip(size, span, jump))
            jump = tuple(j * si for j, si in zip(jump, s))
        result.append(RFLayer(name, size, jump, start))
    return result
