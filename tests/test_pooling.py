"""convlib.pooling against torch.nn.functional: forward, indices, gradients, tie-breaking and errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from convlib import pooling
from tests.strategies import fitting_sizes, generators, paddings_within, per_axis

MAX = {1: (pooling.max_pool1d, F.max_pool1d), 2: (pooling.max_pool2d, F.max_pool2d)}
AVG = {1: (pooling.avg_pool1d, F.avg_pool1d), 2: (pooling.avg_pool2d, F.avg_pool2d)}


@dataclass
class Case:
    """One valid pooling call: the input and the keyword arguments shared by convlib and torch."""

    x: torch.Tensor
    kwargs: dict


@st.composite
def cases(draw: st.DrawFn, nd: int, kind: str, ties: bool = True) -> Case:
    """A valid combination: padding <= k // 2, and the input is at least one (dilated) window long."""
    k = draw(per_axis(nd, 1, 4))
    stride = draw(st.none() | per_axis(nd, 1, 3))
    p = draw(paddings_within(k))
    d = draw(per_axis(nd, 1, 3)) if kind == "max" else (1,) * nd
    size = draw(fitting_sizes(k, d, p, extra=6))
    lead = (2, 3) if draw(st.booleans()) else (3,)  # batched or unbatched
    g = draw(generators)
    shape = (*lead, *size)
    if ties and draw(st.booleans()):  # few distinct values, so windows hold equal maxima
        x = torch.randint(0, 3, shape, generator=g).double()
    else:
        x = torch.randn(shape, generator=g, dtype=torch.float64)
    kwargs: dict = {"kernel_size": k, "stride": stride, "padding": p, "ceil_mode": draw(st.booleans())}
    if kind == "max":
        kwargs["dilation"] = d
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
        if nd == 2 and draw(st.integers(0, 4)) == 0:
            kwargs["divisor_override"] = draw(st.integers(1, 5))
    return Case(x, kwargs)


def _forward_backward(fn, case: Case, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and input gradient for distinct upstream weights, zeroed where ``keep`` is False."""
    x = case.x.clone().requires_grad_()
    out = fn(x, **case.kwargs)
    # Distinct integer weights: sums of them are exact, so gradients can be compared bit for bit.
    upstream = torch.arange(1, out.numel() + 1, dtype=out.dtype).view_as(out)
    out.backward(upstream if keep is None else upstream * keep)
    assert x.grad is not None
    return out.detach(), x.grad


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_max_pool_matches_torch_forward_backward_indices(nd: int, data: st.DataObject) -> None:
    case = data.draw(cases(nd, "max"))
    ours, theirs = MAX[nd]
    # A dilated window can lie wholly in the padding: its output is -inf and torch's index for it points
    # outside the input (its backward then writes into a neighbouring channel), so give it no gradient.
    finite = theirs(case.x, **case.kwargs).isfinite()
    out, grad = _forward_backward(ours, case, finite)
    ref, ref_grad = _forward_backward(theirs, case, finite)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    # Equal gradients on inputs with ties prove the first-maximum routing.
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=0)
    _, idx = ours(case.x, **case.kwargs, return_indices=True)
    _, ref_idx = theirs(case.x, **case.kwargs, return_indices=True)
    assert torch.equal(idx[finite], ref_idx[finite])


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_avg_pool_matches_torch_forward_backward(nd: int, data: st.DataObject) -> None:
    case = data.draw(cases(nd, "avg"))
    ours, theirs = AVG[nd]
    out, grad = _forward_backward(ours, case)
    ref, ref_grad = _forward_backward(theirs, case)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(grad, ref_grad)


@pytest.mark.parametrize(("kind", "nd"), [("max", 1), ("max", 2), ("avg", 1), ("avg", 2)])
@settings(max_examples=8)
@given(data=st.data())
def test_pool_gradcheck(kind: str, nd: int, data: st.DataObject) -> None:
    # Distinct values only: max is not differentiable at a tie, so finite differences would disagree.
    case = data.draw(cases(nd, kind, ties=False))
    fn = (MAX if kind == "max" else AVG)[nd][0]
    out = fn(case.x, **case.kwargs)
    if not out.isfinite().all():
        reject()  # a window lies wholly in the -inf padding: finite differences are undefined
    x = case.x.clone().requires_grad_()
    # fast mode checks a random projection of the Jacobian; the tests above compare full gradients with torch's
    assert torch.autograd.gradcheck(lambda t: fn(t, **case.kwargs), (x,), fast_mode=True)


def test_tie_goes_to_first_maximum_in_row_major_order() -> None:
    x = torch.tensor([[[[1.0, 2.0], [2.0, 0.0]]]], requires_grad=True)
    out, idx = pooling.max_pool2d(x, 2, return_indices=True)
    out.sum().backward()
    assert idx.item() == 1  # (0, 1) comes before (1, 0)
    assert x.grad is not None
    assert x.grad.flatten().tolist() == [0.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize("batched", [True, False])
def test_global_pools_match_adaptive_pooling(batched: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (2, 3, 5, 4) if batched else (3, 5, 4), generator=g).double()  # many ties
    for ours, theirs in [
        (pooling.global_avg_pool2d, F.adaptive_avg_pool2d),
        (pooling.global_max_pool2d, F.adaptive_max_pool2d),
    ]:
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        out, ref = ours(a), theirs(b, 1)
        assert out.shape == ref.shape == (*x.shape[:-2], 1, 1)
        torch.testing.assert_close(out, ref)
        out.backward(torch.arange(out.numel(), dtype=x.dtype).view_as(out))
        ref.backward(torch.arange(ref.numel(), dtype=x.dtype).view_as(ref))
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_dtype(dtype: torch.dtype) -> None:
    x = torch.randn(1, 2, 6, 6, dtype=dtype, generator=torch.Generator().manual_seed(1))
    assert pooling.max_pool2d(x, 3, 2, 1).dtype == dtype
    torch.testing.assert_close(pooling.avg_pool2d(x, 3, 2, 1, ceil_mode=True), F.avg_pool2d(x, 3, 2, 1, ceil_mode=True))


def test_does_not_call_torch_pooling(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("convlib.pooling must not call torch's pooling ops")

    for name in [
        "max_pool1d",
        "max_pool2d",
        "avg_pool1d",
        "avg_pool2d",
        "max_pool1d_with_indices",
        "max_pool2d_with_indices",
        "adaptive_avg_pool2d",
        "adaptive_max_pool2d",
    ]:
        monkeypatch.setattr(F, name, forbidden)
    for name in ["max_pool1d", "max_pool2d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d"]:
        monkeypatch.setattr(torch, name, forbidden)
    x = torch.randn(1, 2, 6, 6)
    pooling.max_pool2d(x, 2, return_indices=True)
    pooling.avg_pool2d(x, 3, padding=1)
    pooling.max_pool1d(x[0], 2)
    pooling.avg_pool1d(x[0], 2)
    pooling.global_avg_pool2d(x)
    pooling.global_max_pool2d(x)


X2 = torch.zeros(1, 1, 6, 6)
BAD = [
    # (op, input, kwargs, exception, the argument the message must name)
    (pooling.max_pool2d, X2[0, 0], {"kernel_size": 2}, ValueError, "input must be 3-D or 4-D"),
    (pooling.max_pool1d, X2, {"kernel_size": 2}, ValueError, "input must be 2-D or 3-D"),
    (pooling.avg_pool2d, X2.long(), {"kernel_size": 2}, TypeError, "input must be a floating-point"),
    (pooling.avg_pool2d, X2.numpy(), {"kernel_size": 2}, TypeError, "input must be a torch.Tensor"),
    (pooling.max_pool2d, X2, {"kernel_size": 0}, ValueError, "kernel_size must be positive"),
    (pooling.max_pool2d, X2, {"kernel_size": (2, 2, 2)}, TypeError, "kernel_size must be an int or a tuple"),
    (pooling.avg_pool1d, X2[0], {"kernel_size": 2.0}, TypeError, "kernel_size"),
    (pooling.max_pool2d, X2, {"kernel_size": 2, "stride": 0}, ValueError, "stride must be positive"),
    (pooling.avg_pool2d, X2, {"kernel_size": 2, "stride": -1}, ValueError, "stride must be positive"),
    (pooling.max_pool2d, X2, {"kernel_size": 2, "dilation": 0}, ValueError, "dilation must be positive"),
    (pooling.max_pool1d, X2[0], {"kernel_size": 2, "padding": -1}, ValueError, "padding must be non-negative"),
    (pooling.max_pool2d, X2, {"kernel_size": 3, "padding": 2}, ValueError, "padding must be at most half"),
    (pooling.avg_pool1d, X2[0], {"kernel_size": 2, "padding": 2}, ValueError, "padding must be at most half"),
    (pooling.max_pool2d, X2, {"kernel_size": 7}, ValueError, "kernel_size.*larger than the padded input"),
    (pooling.max_pool2d, X2, {"kernel_size": 3, "dilation": 3}, ValueError, "kernel_size.*larger"),
    (pooling.avg_pool2d, X2, {"kernel_size": 2, "divisor_override": 0}, ValueError, "divisor_override"),
    (pooling.max_pool2d, torch.zeros(1, 0, 4, 4), {"kernel_size": 2}, ValueError, "input must have non-zero"),
    (pooling.global_avg_pool2d, X2[0, 0], {}, ValueError, "input must be 3-D or 4-D"),
    (pooling.global_max_pool2d, X2.int(), {}, TypeError, "input must be a floating-point"),
]


@pytest.mark.parametrize(("op", "x", "kwargs", "error", "match"), BAD)
def test_bad_arguments_raise_before_compute(op, x, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        op(x, **kwargs)
