"""Where a sliding window reads its input: the one geometry type that convolutions and pooling share.

A convolution's kernel and a pooling window both slide over the padded input: output position ``i``
reads, through tap ``a``, the padded input at ``i*s + a*d`` (per spatial axis). :class:`Geometry`
holds the numbers of that rule, stride ``s``, padding and dilation ``d``, and the channel groups of a
convolution, checked and normalised to one value per axis. Every algorithm in
:mod:`convlib.algorithms` takes one, and so does the pooling code; the ops build it while they check
their arguments (:mod:`convlib._validate`).

The aliases name the argument forms: :data:`Size` as torch takes ``stride`` and friends, and
:data:`Padding` as the algorithms take it, ``(before, after)`` per axis. :func:`ntuple`,
:func:`positive` and :func:`non_negative` turn a ``Size`` into checked per-axis values; every op
that takes a size argument uses them, with torch's error types and a message naming the argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Size = int | Sequence[int]
"""An int for every spatial axis, or one value per axis, as torch takes ``stride``, ``padding`` and friends."""

Padding = Sequence[tuple[int, int]]
"""``(before, after)`` cells per spatial axis, first axis first; a negative amount crops."""


def ntuple(value: object, n: int, name: str, op: str) -> tuple[int, ...]:
    """One int per axis from a :data:`Size`, as torch expands ``stride`` and friends.

    Args:
        value: an int for every axis, or a sequence of ``n`` ints (or of one, repeated).
        n: number of axes.
        name: the argument's name, for the error message.
        op: the op's name, for the error message.

    Returns:
        ``n`` ints; anything else raises ``TypeError`` naming ``op`` and ``name``.

    >>> ntuple(3, 2, "kernel_size", "conv2d"), ntuple([1, 2], 2, "stride", "conv2d")
    ((3, 3), (1, 2))
    """
    if isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got bool {value!r}")
    if isinstance(value, int):
        return (value,) * n
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = tuple(value)
        if len(items) == 1:
            items = items * n
        if len(items) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        return items
    raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {type(value).__name__} {value!r}")


def positive(values: tuple[int, ...], name: str, op: str) -> tuple[int, ...]:
    """Require every entry to be >= 1 (stride, dilation, kernel size); ``ValueError`` otherwise.

    >>> positive((2, 1), "stride", "conv2d")
    (2, 1)
    """
    if any(v < 1 for v in values):
        raise ValueError(f"{op}: {name} must be positive integers, got {values}")
    return values


def non_negative(values: tuple[int, ...], name: str, op: str) -> tuple[int, ...]:
    """Require every entry to be >= 0 (padding); ``ValueError`` otherwise.

    >>> non_negative((0, 1), "padding", "conv2d")
    (0, 1)
    """
    if any(v < 0 for v in values):
        raise ValueError(f"{op}: {name} must be non-negative integers, got {values}")
    return values


@dataclass(frozen=True)
class Geometry:
    """Where a sliding window reads its input: one value per spatial axis, checked and normalised.

    A transposed convolution is described by the geometry of the direct convolution it transposes.
    Pooling has no groups, and pads up to where its last window reaches (see :mod:`convlib.pooling`).

    >>> Geometry.of(2, stride=2, padding=1)  # a 2-D layer: ints apply to both axes
    Geometry(stride=(2, 2), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
    """

    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]  # (before, after) per axis; negative crops
    dilation: tuple[int, ...]  # 1 is a contiguous kernel
    groups: int = 1

    @classmethod
    def of(cls, n: int, stride: Size = 1, padding: Size = 0, dilation: Size = 1, groups: int = 1) -> Geometry:
        """The geometry of an ``n``-D convolution, with torch's argument forms (``padding`` per side).

        Args:
            n: number of spatial axes.
            stride, padding, dilation: an int for every axis, or one per axis.
            groups: number of channel groups.

        Returns:
            the geometry; invalid values raise ``TypeError`` or ``ValueError`` naming the argument.

        Shapes:
            every field has ``n`` entries.

        >>> Geometry.of(1, dilation=2).dilation
        (2,)
        """
        op = "Geometry"
        pads = non_negative(ntuple(padding, n, "padding", op), "padding", op)
        return cls(
            positive(ntuple(stride, n, "stride", op), "stride", op),
            tuple((p, p) for p in pads),
            positive(ntuple(dilation, n, "dilation", op), "dilation", op),
            positive(ntuple(groups, 1, "groups", op), "groups", op)[0],
        )
