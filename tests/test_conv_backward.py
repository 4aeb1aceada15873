"""The hand-written backward pass: gradcheck in float64, and gradients equal to torch's autograd."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given

from convlib import functional as cf
from convlib.algorithms import registry
from convlib.algorithms.autograd import Conv
from tests.helpers import PATHS, ours, reference
from tests.strategies import Case, conv_cases

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
METHODS = [m for m in registry.METHODS if m != "winograd"]  # winograd: 3x3 only, tested apart


def _leaves(case: Case) -> tuple[Case, tuple[torch.Tensor, ...]]:
    """A copy of ``case`` whose tensors are fresh leaves that require grad, and those leaves."""
    x, w = (t.detach().clone().requires_grad_() for t in (case.x, case.w))
    b = None if case.b is None else case.b.detach().clone().requires_grad_()
    return Case(x, w, b, case.kwargs, case.padding_mode), (x, w) if b is None else (x, w, b)


def _assert_gradients_match(case: Case, method: str, path: str) -> None:
    (mine, mine_leaves), (theirs, their_leaves) = _leaves(case), _leaves(case)
    y_ref = reference(theirs)
    grad_y = torch.randn_like(y_ref)
    with PATHS[path]():
        y_mine = ours(mine, method)
        got = torch.autograd.grad(y_mine, mine_leaves, grad_y)
    want = torch.autograd.grad(y_ref, their_leaves, grad_y)
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("method", METHODS)
@given(case=conv_cases(dtypes=(torch.float64,)))
def test_gradients_match_torch_autograd(path: str, method: str, case: Case) -> None:
    _assert_gradients_match(case, method, path)


def _case(x: tuple[int, ...], w: tuple[int, ...], bias: bool, mode: str = "zeros", **kwargs: object) -> Case:
    gen = torch.Generator().manual_seed(len(x) + len(kwargs))
    tensors = (torch.randn(*s, generator=gen, dtype=torch.float64) for s in (x, w, w[:1]))
    xt, wt, bt = tensors
    return Case(xt, wt, bt if bias else None, {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, **kwargs}, mode)


# gradcheck compares with finite differences, one forward pass per input entry: a few small cases that
# cover every branch; the property tests above compare the gradients with torch's over the whole grid
GRADCHECK_CASES = {
    "1d strided, padded, bias": _case((2, 2, 7), (2, 2, 3), True, stride=2, padding=1),
    "2d groups, dilation, reflect": _case((1, 4, 6, 5), (4, 2, 2, 3), False, "reflect", stride=(2, 1),
                                          padding=(1, 0), dilation=(1, 2), groups=2),
    "2d same, even kernel, circular": _case((1, 2, 4, 4), (1, 2, 2, 2), True, "circular", padding="same"),
    "3d padded": _case((1, 1, 3, 2, 2), (1, 1, 2, 2, 2), True, padding=1),
}  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck(method: str, name: str) -> None:
    case = GRADCHECK_CASES[name]
    _, leaves = _leaves(case)

    def fn(*args: torch.Tensor) -> torch.Tensor:
        bias = args[2] if len(args) > 2 else None
        return ours(Case(args[0], args[1], bias, case.kwargs, case.padding_mode), method)

    assert torch.autograd.gradcheck(fn, leaves)


@pytest.mark.parametrize("path", sorted(PATHS))
@given(case=conv_cases(dtypes=(torch.float64,), winograd=True))
def test_winograd_gradients_match_torch(path: str, case: Case) -> None:
    _assert_gradients_match(case, "winograd", path)


@pytest.mark.parametrize(
    ("need_x", "need_w", "need_b"), [(True, False, False), (False, True, False), (False, False, True)]
)
def test_only_the_requested_gradients_are_computed(need_x: bool, need_w: bool, need_b: bool) -> None:
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64, requires_grad=need_x)
    w = torch.randn(6, 2, 3, 2, dtype=torch.float64, requires_grad=need_w)
    b = torch.randn(6, dtype=torch.float64, requires_grad=need_b)
    y = cf.conv2d(x, w, b, stride=2, padding=1, groups=2)
    y.sum().backward()
    assert (x.grad is not None, w.grad is not None, b.grad is not None) == (need_x, need_w, need_b)
    ref = [t.detach().clone().requires_grad_(t.requires_grad) for t in (x, w, b)]
    torch.nn.functional.conv2d(*ref, stride=2, padding=1, groups=2).sum().backward()
    for mine, theirs in zip((x, w, b), ref):
        if theirs.grad is not None:
            torch.testing.assert_close(mine.grad, theirs.grad)


def test_backward_is_the_hand_written_one() -> None:
    # the graph node is convlib's Function, not autograd's record of the forward's ops
    x = torch.randn(1, 1, 5, 5, requires_grad=True)
    y = cf.conv2d(x, torch.randn(1, 1, 3, 3))
    assert y.grad_fn is not None
    assert y.grad_fn.name().startswith(Conv.__name__)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_strided_input_gradient_recovers_every_input_size(stride: int) -> None:
    # sizes that the strided conv maps to the same output size need different output_padding
    w = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    for size in range(7, 7 + stride):
        x = torch.randn(1, 1, size, size, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: cf.conv2d(t, w, stride=stride, padding=1), (x,))


@pytest.mark.parametrize("op", ["conv", "conv_transpose"])
def test_untracked_calls_skip_the_function_and_agree_with_it(op: str) -> None:
    # inference skips autograd.Function (it costs as much as a small convolution): same numbers, no graph
    fn = cf.conv2d if op == "conv" else cf.conv_transpose2d
    x, w, b = torch.randn(2, 4, 7, 6), torch.randn(4, 4, 3, 3), torch.randn(4)
    tracked = fn(x.requires_grad_(), w, b, padding=1)
    with torch.no_grad():
        untracked = fn(x, w, b, padding=1)
    assert tracked.grad_fn is not None and untracked.grad_fn is None
    assert torch.equal(tracked, untracked)
    assert fn(x.detach(), w, b, padding=1).grad_fn is None  # nothing requires grad: nothing to record
