"""``unfold`` (im2col) and ``fold`` (col2im) against torch, without torch's implementations inside."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from convlib import functional as cf
from tests.strategies import batches, dtypes, fitting_sizes, per_axis

Geometry = dict[str, tuple[int, int]]


@st.composite
def patch_geometry(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, int], Geometry]:
    """A batched or unbatched image shape and valid unfold arguments (the kernel fits the padded image)."""

    kernel, dilation, padding, stride = (draw(per_axis(2, lo, hi)) for lo, hi in [(1, 3), (1, 2), (0, 2), (1, 3)])
    size = draw(fitting_sizes(kernel, dilation, padding, extra=4))
    batch = draw(batches)
    shape = (*batch, draw(st.integers(1, 3)), *size)
    kwargs = {"kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}
    return shape, (size[0], size[1]), kwargs


@given(geometry=patch_geometry(), dtype=dtypes)
def test_unfold_matches_torch(geometry: tuple[tuple[int, ...], tuple[int, int], Geometry], dtype: torch.dtype) -> None:
    shape, _, kwargs = geometry
    x = torch.randn(shape, dtype=dtype)
    assert torch.equal(cf.unfold(x, **kwargs), torch.nn.functional.unfold(x, **kwargs))


@given(geometry=patch_geometry(), dtype=dtypes)
def test_fold_matches_torch(geometry: tuple[tuple[int, ...], tuple[int, int], Geometry], dtype: torch.dtype) -> None:
    shape, size, kwargs = geometry
    cols = torch.nn.functional.unfold(torch.randn(shape, dtype=dtype), **kwargs)
    cols = torch.randn_like(cols)  # fold must accept any columns, not only unfold's
    torch.testing.assert_close(cf.fold(cols, size, **kwargs), torch.nn.functional.fold(cols, size, **kwargs))


def test_unfold_and_fold_are_adjoint_and_differentiable() -> None:
    kwargs: Geometry = {"kernel_size": (2, 3), "dilation": (1, 2), "padding": (1, 0), "stride": (2, 1)}
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    cols = torch.randn_like(cf.unfold(x, **kwargs), requires_grad=True)
    torch.testing.assert_close((cf.unfold(x, **kwargs) * cols).sum(), (x * cf.fold(cols, (6, 7), **kwargs)).sum())
    assert torch.autograd.gradcheck(lambda t: cf.unfold(t, **kwargs), (x,))
    assert torch.autograd.gradcheck(lambda c: cf.fold(c, (6, 7), **kwargs), (cols,))
