"""Each algorithm called directly, as a chapter shows it: torch's numbers, under autograd, with no shared memory.

The tuned versions that the ops run are compared with these in ``tests/test_fast.py``.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convlib.algorithms import fft, im2col, loops, winograd
from convlib.algorithms.adjoint import Correlate
from convlib.algorithms.grid import spread
from convlib.geometry import Geometry
from tests.helpers import TOL, reference, zero_padded
from tests.strategies import Case, conv_cases

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
CORRELATE = {"loops": loops.correlate, "im2col": im2col.correlate, "fft": fft.correlate}


def _assert_direct_call_matches_torch(correlate: Correlate, case: Case) -> None:
    """Forward and gradients of ``correlate`` under autograd, called twice with both results kept."""
    case, geometry = zero_padded(case)
    case = dataclasses.replace(case, b=None)
    x, w = (t.detach().clone().requires_grad_() for t in (case.x, case.w))
    first, second = correlate(x, w, geometry), correlate(x * 1, w * 1, geometry)
    want = reference(case)
    torch.testing.assert_close(first, want, **TOL[x.dtype])
    torch.testing.assert_close(second, want, **TOL[x.dtype])
    torch.testing.assert_close(first, want, **TOL[x.dtype])  # the second call left the first result alone
    grad_y = torch.randn_like(want)
    x_ref, w_ref = (t.detach().clone().requires_grad_() for t in (case.x, case.w))
    got = torch.autograd.grad(first, (x, w), grad_y)
    ref = torch.autograd.grad(reference(case, x_ref, w_ref), (x_ref, w_ref), grad_y)
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r, **TOL[x.dtype])


@pytest.mark.parametrize("name", sorted(CORRELATE))
@given(case=conv_cases(dtypes=(torch.float64,)))
def test_direct_call_matches_torch_under_autograd(name: str, case: Case) -> None:
    _assert_direct_call_matches_torch(CORRELATE[name], case)


@given(case=conv_cases(dtypes=(torch.float64,), winograd=True))
def test_winograd_direct_call_matches_torch_under_autograd(case: Case) -> None:
    _assert_direct_call_matches_torch(winograd.correlate, case)


def test_fft_with_several_channels_per_group_works_under_autograd() -> None:
    # the tuned FFT mixes channels with out=, which autograd refuses; the plain one must not
    x, w = torch.randn(2, 4, 9, 9, requires_grad=True), torch.randn(4, 2, 3, 3)
    y = fft.correlate(x, w, Geometry.of(2, groups=2))
    y.sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(y, torch.nn.functional.conv2d(x, w, groups=2), rtol=1e-4, atol=1e-4)


def test_winograd_tile_counts_16_multiplications_and_matches_the_sliding_window() -> None:
    d, g = torch.randn(4, 4, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    want = torch.nn.functional.conv2d(d[None, None], g[None, None])[0, 0]
    torch.testing.assert_close(winograd.tile(d, g), want)
    with pytest.raises(ValueError, match="3x3 kernel with stride 1"):
        winograd.correlate(d[None, None], g[None, None], Geometry.of(2, stride=2))


@given(size=st.integers(1, 6), step=st.integers(1, 3))
def test_spread_puts_samples_on_a_grid(size: int, step: int) -> None:
    x = torch.arange(1.0, size + 1).view(1, 1, size)
    grid = spread(x, (step,))
    assert grid.shape[-1] == step * (size - 1) + 1
    assert torch.equal(grid[..., ::step], x) and grid.sum() == x.sum()


def test_memory_is_released_after_a_large_convolution() -> None:
    # run in a fresh process, so that what this test measures is only the convolution's own memory
    code = textwrap.dedent("""
        import gc, psutil, torch
        from convlib.functional import conv2d
        conv2d(torch.randn(1, 2, 8, 8), torch.randn(2, 2, 3, 3), padding=1, method="im2col")  # load the kernels
        x, w = torch.randn(1, 64, 256, 256), torch.randn(64, 64, 3, 3)
        gc.collect()
        before = psutil.Process().memory_info().rss
        y = conv2d(x, w, padding=1, method="im2col")
        del y
        gc.collect()
        print((psutil.Process().memory_info().rss - before) / 2**20)
    """)
    grown = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert grown <= 32, f"the process keeps {grown:.0f} MiB after the convolution"
