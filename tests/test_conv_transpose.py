"""Transposed convolution against torch: forward, gradients and gradcheck, for every method."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convlib import functional as cf
from convlib.algorithms import _fast, loops, registry
from convlib.algorithms.adjoint import conv_transpose
from convlib.geometry import Geometry
from tests.helpers import PATHS
from tests.strategies import TCase, per_axis, transpose_cases

OURS = {1: cf.conv_transpose1d, 2: cf.conv_transpose2d}
TORCH = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d}
METHODS = [m for m in registry.METHODS if m != "winograd"]  # winograd: 3x3 only, tested apart


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("method", METHODS)
@given(case=transpose_cases())
def test_forward_matches_torch(path: str, method: str, case: TCase) -> None:
    n = case.w.ndim - 2
    with PATHS[path]():
        got = OURS[n](case.x, case.w, case.b, **case.kwargs, method=method)  # type: ignore[arg-type]
    want = TORCH[n](case.x, case.w, case.b, **case.kwargs)  # type: ignore[arg-type]
    tol = 1e-4 if case.x.dtype == torch.float32 else 1e-10
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("method", METHODS)
@given(case=transpose_cases(dtypes=(torch.float64,)))
def test_gradients_match_torch(path: str, method: str, case: TCase) -> None:
    n = case.w.ndim - 2
    tensors = [t for t in (case.x, case.w, case.b) if t is not None]
    mine = [t.detach().clone().requires_grad_() for t in tensors]
    theirs = [t.detach().clone().requires_grad_() for t in tensors]
    y_ref = TORCH[n](*theirs, **case.kwargs)  # type: ignore[arg-type]
    grad_y = torch.randn_like(y_ref)
    with PATHS[path]():
        y_mine = OURS[n](*mine, **case.kwargs, method=method)  # type: ignore[arg-type]
        grads = torch.autograd.grad(y_mine, mine, grad_y)
    for got, want in zip(grads, torch.autograd.grad(y_ref, theirs, grad_y)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def _tcase(x: tuple[int, ...], w: tuple[int, ...], **kwargs: object) -> TCase:
    gen = torch.Generator().manual_seed(len(x))
    xt, wt = (torch.randn(*s, generator=gen, dtype=torch.float64) for s in (x, w))
    bias = torch.randn(w[1] * int(kwargs.get("groups", 1)), generator=gen, dtype=torch.float64)  # type: ignore[call-overload]
    return TCase(xt, wt, bias, kwargs)


# gradcheck on a few small cases; the property test above compares gradients with torch's over the grid
GRADCHECK_CASES = {
    "1d strided, output_padding": _tcase((2, 2, 4), (2, 3, 3), stride=2, padding=1, output_padding=1),
    "2d groups, dilation": _tcase((1, 4, 3, 4), (4, 1, 2, 3), stride=(2, 1), dilation=(1, 2), groups=2,
                                  output_padding=(1, 1)),
}  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck(method: str, name: str) -> None:
    case = GRADCHECK_CASES[name]
    n = case.w.ndim - 2
    leaves = [t.detach().clone().requires_grad_() for t in (case.x, case.w, case.b) if t is not None]
    assert torch.autograd.gradcheck(lambda *a: OURS[n](*a, **case.kwargs, method=method), leaves)  # type: ignore[arg-type]


def test_transpose_is_the_adjoint_of_conv() -> None:
    # <conv(x), y> == <x, conv_transpose(y)> for the same weight, stride, padding and dilation
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 8, generator=gen, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 2, generator=gen, dtype=torch.float64)
    kw = {"stride": (2, 3), "padding": (1, 0), "dilation": (1, 2)}
    y = torch.randn_like(cf.conv2d(x, w, **kw))  # type: ignore[arg-type]
    back = cf.conv_transpose2d(y, w, **kw, output_padding=(0, 2))  # type: ignore[arg-type]
    assert back.shape == x.shape
    torch.testing.assert_close((cf.conv2d(x, w, **kw) * y).sum(), (x * back).sum())  # type: ignore[arg-type]


@pytest.mark.parametrize("stride", [1, 2])
def test_winograd_runs_the_correlation_inside_a_transposed_convolution(stride: int) -> None:
    # conv^T correlates the spread input with stride 1, so a 3x3 undilated kernel qualifies at any stride
    gen = torch.Generator().manual_seed(stride)
    x = torch.randn(2, 4, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    kw = {"stride": stride, "padding": 1, "output_padding": stride - 1, "groups": 1}
    got = cf.conv_transpose2d(x, w, **kw, method="winograd")  # type: ignore[arg-type]
    want = torch.nn.functional.conv_transpose2d(x, w, **kw)  # type: ignore[arg-type]
    torch.testing.assert_close(got, want)
    grad_y = torch.randn_like(want)
    for g, r in zip(torch.autograd.grad(got, (x, w), grad_y), torch.autograd.grad(want, (x, w), grad_y)):
        torch.testing.assert_close(g, r)


@given(data=st.data())
def test_col2im_equals_the_generic_route(data: st.DataObject) -> None:
    # im2col's own conv^T (matrix product, then col2im) against spread + pad + correlate, in 1-3 D
    n = data.draw(st.integers(1, 3))
    groups = data.draw(st.integers(1, 2))
    c_out, c_in = groups * data.draw(st.integers(1, 3)), groups * data.draw(st.integers(1, 3))
    kernel, stride, dilation = data.draw(per_axis(n, 1, 3)), data.draw(per_axis(n, 1, 3)), data.draw(per_axis(n, 1, 2))
    out = data.draw(per_axis(n, 1, 4))
    extra = [data.draw(st.integers(0, s - 1)) for s in stride]  # output_padding picks among s sizes
    full = [(o - 1) * s + d * (k - 1) + 1 + e for o, s, d, k, e in zip(out, stride, dilation, kernel, extra)]
    pads = [data.draw(st.integers(0, min(2, (f - 1) // 2))) for f in full]  # keeps the result >= 1 pixel
    size, padding = [f - 2 * p for f, p in zip(full, pads)], tuple((p, p) for p in pads)
    x = torch.randn(2, c_out, *out, dtype=torch.float64)
    w = torch.randn(c_out, c_in // groups, *kernel, dtype=torch.float64)
    geometry = Geometry(stride, padding, dilation, groups)
    got = _fast.im2col_transpose(x, w, size, geometry)
    torch.testing.assert_close(got, conv_transpose(x, w, size, geometry, loops.correlate))
