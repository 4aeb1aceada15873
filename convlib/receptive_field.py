"""Receptive fields: which input pixels each unit of a convolutional network can see.

Per spatial axis, a stack of convolution and pooling layers maps one output unit to a window of the
input whose size, spacing between neighbouring units (the *jump*) and centre follow a recurrence over
the layers. Its forward form, below, is equivalent to the closed form of Araujo, Norris & Sim,
"Computing Receptive Fields of Convolutional Neural Networks", Distill 2019.

A block with several paths whose outputs are added (a residual block: ``F(x) + x``) sees the union
of its paths' fields: with aligned centres, the largest of them. :class:`Paths` describes such a
block, and any module with a ``paths()`` method (the blocks of :mod:`convlib.course.resnet`) is read
the same way.

:func:`receptive_field` gives each layer's size, jump and start: the extent of a field. The exact set
of input pixels one unit depends on, holes included, is :func:`convlib.dependency.dependency_mask`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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
class Paths:
    """Several paths from one input whose outputs are added (or concatenated): a multi-path block.

    Each path is a list of specs (or an ``nn.Sequential``); an empty path is the identity shortcut.
    The paths must end with the same jump, since their outputs share one grid.

    >>> block = Paths(([Layer(3, padding=1), Layer(3, padding=1)], []), name="residual")
    >>> receptive_field([block])[-1].size  # the union of a 5-pixel path and the 1-pixel shortcut
    (5,)
    """

    branches: tuple[Iterable[Any] | nn.Sequential, ...]
    name: str = ""

    def paths(self) -> Sequence[Iterable[Any] | nn.Sequential]:
        """The block's paths, as given."""
        return self.branches


@runtime_checkable
class MultiPath(Protocol):
    """A module or spec with several paths from its input, listed by ``paths()``."""

    def paths(self) -> Sequence[Iterable[Any] | nn.Sequential]:
        """The paths whose outputs the block adds, each a list of specs or an ``nn.Sequential``."""


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
Spec = Layer | Paths | nn.Module


def _flatten(layers: Iterable[Spec] | nn.Sequential, prefix: str = "") -> Iterator[tuple[str, Spec]]:
    """Yield ``(name, layer)`` pairs, descending into nested ``nn.Sequential`` blocks (not into paths)."""
    items = layers.named_children() if isinstance(layers, nn.Sequential) else enumerate(layers)
    for key, layer in items:
        name = f"{prefix}{key}"
        if isinstance(layer, nn.Sequential):
            yield from _flatten(layer, prefix=f"{name}.")
        elif isinstance(layer, (Layer, Paths)):
            yield layer.name or name, layer
        else:
            yield f"{name}:{type(layer).__name__}", layer


def _axes(layers: Iterable[Spec] | nn.Sequential) -> set[int]:
    """The axis counts that the layers (and the layers of their paths) fix; checks every layer's type."""
    dims: set[int] = set()
    for name, layer in _flatten(layers):
        if isinstance(layer, MultiPath):
            for path in layer.paths():
                dims |= _axes(path)
        else:
            nd = _as_layer(name, layer)[1]
            dims |= {nd} if nd is not None else set()
    return dims


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

    A multi-path block (a :class:`Paths`, or a module with a ``paths()`` method) runs the recurrences
    along each path from the block's input, and its field is their union: from the first pixel any
    path sees to the last. When the paths' centres agree (equal starts, as for a residual block with
    an identity or a 1×1 shortcut), that is the largest of the paths' fields.

    Args:
        layers: :class:`Layer` specs and/or modules, or an ``nn.Sequential`` (nested ones are walked).
            ``nn.Conv1d/2d/3d``, ``nn.MaxPool1d/2d``, ``nn.AvgPool1d/2d`` (and convlib.nn's subclasses)
            are read; position-wise modules (:data:`POSITIONWISE`: ReLU, BatchNorm, Dropout, ...) pass
            the field through; multi-path blocks give one row, the union of their paths.
        ndim: number of spatial axes. ``None`` infers it from the modules and per-axis tuples, and
            uses 1 when every spec is a plain int.

    Returns:
        one :class:`RFLayer` per layer, position-wise ones included, in order; nested ``nn.Sequential``
        blocks are expanded and their layers named by path (``"1.0:BatchNorm2d"``); a multi-path
        block is one row.

    Raises:
        TypeError: for a module that is not a conv, pooling, position-wise or multi-path layer.
        ValueError: for non-positive kernel/stride/dilation, negative padding, disagreeing axis counts,
            or the paths of a block ending with different jumps.

    Shapes:
        every ``RFLayer`` field is a tuple of ``ndim`` entries.

    >>> [rf.size for rf in receptive_field([Layer(3), Layer(3), Layer(3)])]  # 3, 3 + 2, 5 + 2
    [(3,), (5,), (7,)]
    >>> receptive_field([Layer(3, stride=2), Layer(3, stride=2)])[-1]  # size 3 + 2*2, jump 2*2, start 1 + 1*2
    RFLayer(name='1', size=(7,), jump=(4,), start=(3.0,))
    >>> down = Paths(([Layer(3, 2, 1), Layer(3, 1, 1)], [Layer(1, 2)]))  # a downsampling residual block
    >>> receptive_field([Layer(3, padding=1), down])[-1]  # main path 3 + 2 + 2*2 = 9; the shortcut's 3
    RFLayer(name='1', size=(9,), jump=(2,), start=(0.0,))
    """
    if ndim is not None and (isinstance(ndim, bool) or not isinstance(ndim, int) or ndim < 1):
        raise ValueError(f"receptive_field: ndim must be a positive int or None, got {ndim!r}")
    dims = _axes(layers) | ({ndim} if ndim is not None else set())
    if len(dims) > 1:
        raise ValueError(f"receptive_field: layers disagree on the number of axes, got {sorted(dims)}")
    nd = dims.pop() if dims else 1
    return _propagate(layers, nd, ((1,) * nd, (1,) * nd, (0.0,) * nd))


_State = tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...]]  # (size, jump, start), per axis


def _propagate(layers: Iterable[Spec] | nn.Sequential, nd: int, state: _State, prefix: str = "") -> list[RFLayer]:
    """The recurrences over a stack, from ``state``; a multi-path block takes the union of its paths."""
    result = []
    for name, layer in _flatten(layers, prefix):
        if isinstance(layer, MultiPath):
            # an empty path (the identity) ends where it starts
            ends = [
                (_propagate(p, nd, state, f"{name}.{i}.") or [RFLayer(name, *state)])[-1]
                for i, p in enumerate(layer.paths())
            ]
            state = union_of_paths(name, ends) if ends else state
        else:
            geometry = _as_layer(name, layer)[0]
            if geometry is not None:
                state = _step(name, geometry, nd, state)
        result.append(RFLayer(name, *state))
    return result


def _step(name: str, layer: Layer, nd: int, state: _State) -> _State:
    """One layer of eqs. (jump), (size), (start)."""
    size, jump, start = state
    op = f"receptive_field ({name})"
    k = check.positive(check.ntuple(layer.kernel_size, nd, "kernel_size", op), "kernel_size", op)
    s = check.positive(check.ntuple(layer.stride, nd, "stride", op), "stride", op)
    p = check.non_negative(check.ntuple(layer.padding, nd, "padding", op), "padding", op)
    d = check.positive(check.ntuple(layer.dilation, nd, "dilation", op), "dilation", op)
    span = tuple(di * (ki - 1) for ki, di in zip(k, d))  # extent of the kernel minus one
    start = tuple(st + (sp / 2 - pi) * j for st, sp, pi, j in zip(start, span, p, jump))
    size = tuple(r + sp * j for r, sp, j in zip(size, span, jump))
    jump = tuple(j * si for j, si in zip(jump, s))
    return size, jump, start


def union_of_paths(name: str, ends: list[RFLayer]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...]]:
    """The field of a sum of paths: from the first pixel any path sees to the last, per axis.

    With aligned centres (equal starts) this is the largest of the paths' fields.

    Args:
        name: the block's name, for the error message.
        ends: the last row of each path (:class:`RFLayer`), all on one grid (equal jumps).

    Returns:
        ``(size, jump, start)`` of the block's output.

    Raises:
        ValueError: if the paths end with different jumps.

    >>> union_of_paths("block", [RFLayer("a", (5,), (1,), (2.0,)), RFLayer("b", (1,), (1,), (2.0,))])
    ((5,), (1,), (2.0,))
    """
    if len({end.jump for end in ends}) > 1:
        raise ValueError(
            f"receptive_field ({name}): the paths of a block must end on one grid, got jumps {[e.jump for e in ends]}"
        )
    first = [min(e.start[a] - (e.size[a] - 1) / 2 for e in ends) for a in range(len(ends[0].size))]
    last = [max(e.start[a] + (e.size[a] - 1) / 2 for e in ends) for a in range(len(ends[0].size))]
    size = tuple(int(hi - lo) + 1 for lo, hi in zip(first, last))
    start = tuple((lo + hi) / 2 for lo, hi in zip(first, last))
    return size, ends[0].jump, start
