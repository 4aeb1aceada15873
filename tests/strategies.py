"""The Hypothesis strategies that the property tests share.

Each builds only valid arguments: sizes are derived from the kernel, dilation and padding so that the
kernel fits, so no example is filtered out and no test has to return early.

- :func:`per_axis`: one int per spatial axis; :func:`paddings_within`: at most half the kernel per axis.
- :func:`fitting_sizes`: input lengths that hold the dilated kernel once padded.
- :data:`generators`: a ``torch.Generator`` seeded from the example, so an example's tensors follow from it.
- :func:`conv_cases` (:class:`Case`) and :func:`transpose_cases` (:class:`TCase`): whole calls of
  ``convNd`` and ``conv_transposeNd``, for the forward, backward and algorithm tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import strategies as st

DTYPES = (torch.float32, torch.float64)
dtypes = st.sampled_from(DTYPES)
batches = st.sampled_from([(), (1,), (2,)])  # unbatched, or a batch of one or two
generators = st.integers(0, 2**16).map(lambda seed: torch.Generator().manual_seed(seed))


def per_axis(n: int, lo: int, hi: int) -> st.SearchStrategy[tuple[int, ...]]:
    """``n`` ints in ``[lo, hi]``: a kernel size, stride, dilation or padding for each of ``n`` axes."""
    return st.tuples(*[st.integers(lo, hi)] * n)


def paddings_within(kernel: Sequence[int]) -> st.SearchStrategy[tuple[int, ...]]:
    """A padding of at most half the kernel on each axis (what pooling allows)."""
    return st.tuples(*(st.integers(0, k // 2) for k in kernel))


def fitting_sizes(
    kernel: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[int | tuple[int, int]],
    extra: int = 3,
    mode: str = "zeros",
) -> st.SearchStrategy[tuple[int, ...]]:
    """Input lengths whose padded input holds the dilated kernel, with up to ``extra`` more on each axis.

    ``padding`` is per side, as torch's (an int per axis, or a (before, after) pair, as "same" pads an even
    kernel). ``mode="reflect"`` needs each padding below the length and ``"circular"`` at most the length.
    """
    lows = []
    for k, d, p in zip(kernel, dilation, padding):
        before, after = (p, p) if isinstance(p, int) else p
        fits = d * (k - 1) + 1 - before - after  # the padded input must hold the dilated kernel
        holds_pad = {"reflect": max(before, after) + 1, "circular": max(before, after)}.get(mode, 1)
        lows.append(max(fits, holds_pad, 1))
    return st.tuples(*(st.integers(lo, lo + extra) for lo in lows))


@dataclass
class Case:
    """One convolution call: tensors plus keyword arguments, valid by construction."""

    x: torch.Tensor
    w: torch.Tensor
    b: torch.Tensor | None
    kwargs: dict[str, Any]
    padding_mode: str

    @property
    def n(self) -> int:
        return self.w.ndim - 2


@st.composite
def conv_cases(
    draw: st.DrawFn,
    dims: tuple[int, ...] = (1, 2, 3),
    dtypes: tuple[torch.dtype, ...] = DTYPES,
    winograd: bool = False,
) -> Case:
    """A valid ``convNd`` call. With ``winograd``, only 2-D 3x3 kernels with stride and dilation 1."""
    n = 2 if winograd else draw(st.sampled_from(dims))
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    small = 3 if n == 3 else 4  # keeps 3-D volumes tiny
    kernel = (3,) * n if winograd else draw(per_axis(n, 1, small))
    dilation = (1,) * n if winograd else draw(per_axis(n, 1, 2))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    kind = draw(st.sampled_from(["int", "tuple", "valid", "same"]))
    stride = (1,) * n if winograd or kind == "same" else draw(per_axis(n, 1, 3))
    if kind == "same":
        padding: Any = "same"
        pads: list[int | tuple[int, int]] = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                                             for k, d in zip(kernel, dilation)]  # fmt: skip
    elif kind == "valid":
        padding, pads = "valid", [0] * n
    else:
        per_side = draw(per_axis(n, 0, 2))
        padding = per_side[0] if kind == "int" else per_side
        pads = [per_side[0]] * n if kind == "int" else list(per_side)
    size = draw(fitting_sizes(kernel, dilation, pads, mode=mode))
    batch = draw(batches)
    dtype = draw(st.sampled_from(dtypes))
    gen = draw(generators)
    x = torch.randn(*batch, c_in, *size, generator=gen, dtype=dtype)
    w = torch.randn(c_out, c_in // groups, *kernel, generator=gen, dtype=dtype)
    b = torch.randn(c_out, generator=gen, dtype=dtype) if draw(st.booleans()) else None
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return Case(x, w, b, kwargs, mode)


@dataclass
class TCase:
    """One transposed-convolution call; ``w`` is laid out as torch's: (C_in, C_out/groups, *k)."""

    x: torch.Tensor
    w: torch.Tensor
    b: torch.Tensor | None
    kwargs: dict[str, object]


@st.composite
def transpose_cases(draw: st.DrawFn, dtypes: tuple[torch.dtype, ...] = DTYPES) -> TCase:
    """A valid ``conv_transposeNd`` call: output_padding below stride or dilation, output size >= 1."""
    n = draw(st.sampled_from([1, 2]))
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel, stride, dilation = draw(per_axis(n, 1, 4)), draw(per_axis(n, 1, 3)), draw(per_axis(n, 1, 2))
    out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = draw(per_axis(n, 1, 5))
    # output = (i-1)s - 2p + d(k-1) + op + 1 must stay >= 1, which bounds the padding
    room = [(i - 1) * s + d * (k - 1) + o for i, s, d, k, o in zip(size, stride, dilation, kernel, out_pad)]
    padding = tuple(draw(st.integers(0, min(2, r // 2))) for r in room)
    batch = draw(batches)
    dtype = draw(st.sampled_from(dtypes))
    gen = draw(generators)
    x = torch.randn(*batch, c_in, *size, generator=gen, dtype=dtype)
    w = torch.randn(c_in, c_out // groups, *kernel, generator=gen, dtype=dtype)
    b = torch.randn(c_out, generator=gen, dtype=dtype) if draw(st.booleans()) else None
    kwargs = {"stride": stride, "padding": padding, "output_padding": out_pad, "groups": groups, "dilation": dilation}
    return TCase(x, w, b, kwargs)
