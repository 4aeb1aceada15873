"""The conv matrix against torch: ``C @ vec(x)`` is ``conv``, and ``C.T @ vec(g)`` is ``conv_transpose``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convlib.linear_map import conv_matrix, selection
from convlib.shapes import conv_output_size
from tests.strategies import fitting_sizes, generators, per_axis

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@st.composite
def geometries(draw: st.DrawFn) -> dict:
    """A valid zero-padded convolution of one image: sizes derived so that the kernel fits."""
    n = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    axes = per_axis(n, 1, 3 if n < 3 else 2)
    kernel, stride, dilation, padding = draw(axes), draw(axes), draw(per_axis(n, 1, 2)), draw(per_axis(n, 0, 2))
    size = draw(fitting_sizes(kernel, dilation, padding))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    gen = draw(generators)
    return {
        "x": torch.randn(1, c_in, *size, generator=gen, dtype=torch.float64),
        "w": torch.randn(c_out, c_in // groups, *kernel, generator=gen, dtype=torch.float64),
        "kwargs": {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups},
    }


@given(case=geometries())
def test_matrix_times_input_is_the_convolution(case: dict) -> None:
    x, w, kwargs = case["x"], case["w"], case["kwargs"]
    C = conv_matrix(w, x.shape[2:], **kwargs)
    y = CONV[w.ndim - 2](x, w, **kwargs)
    assert C.shape == (y.numel(), x.numel())
    torch.testing.assert_close(C @ x.flatten(), y.flatten(), rtol=1e-12, atol=1e-12)


@given(case=geometries())
def test_transpose_is_the_transposed_convolution(case: dict) -> None:
    x, w, kwargs = case["x"], case["w"], case["kwargs"]
    n = w.ndim - 2
    C = conv_matrix(w, x.shape[2:], **kwargs)
    g = torch.randn_like(CONV[n](x, w, **kwargs))
    # output_padding picks x's size among those with g's size: the rows and columns the floor dropped
    terms = zip(x.shape[2:], g.shape[2:], w.shape[2:], kwargs["stride"], kwargs["padding"], kwargs["dilation"])
    extra = [i - ((o - 1) * s - 2 * p + d * (k - 1) + 1) for i, o, k, s, p, d in terms]
    assert all(0 <= e < s for e, s in zip(extra, kwargs["stride"]))  # the floor's remainder, below the stride
    gx = CONV_T[n](g, w, output_padding=extra, **kwargs)
    torch.testing.assert_close(C.T @ g.flatten(), gx.flatten(), rtol=1e-12, atol=1e-12)


def test_structure_of_a_small_case() -> None:
    """Stride 1, padding 1: 16 x 16 for a 4 x 4 image, at most 9 nonzeros a row, 2-D banded."""
    K = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    C = conv_matrix(K, [4, 4], padding=1)
    assert C.shape == (16, 16)
    assert (C != 0).sum(1).max() == 9 and (C != 0).sum(1).min() == 4  # interior and corner outputs
    assert torch.equal(C[5], torch.tensor([1.0, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]))  # output (1, 1)


def test_selection_counts_taps() -> None:
    """Every (output, tap) pair reads one input, or none on the padding."""
    for size, k, s, p, d in [(5, 3, 1, 0, 1), (7, 3, 2, 1, 2), (4, 2, 3, 2, 1)]:
        e = selection(size, k, s, p, d)
        out = conv_output_size(size, k, s, p, d)
        assert e.shape == (out, k, size)
        assert e.sum(-1).max() == 1
        padded_taps = sum(1 for i in range(out) for a in range(k) if not 0 <= i * s + a * d - p < size)
        assert e.sum() == out * k - padded_taps


def test_groups_make_blocks() -> None:
    w = torch.randn(4, 1, 3, dtype=torch.float64)
    C = conv_matrix(w, [6], groups=4)  # depthwise: one (4, 6) block per channel
    rows, cols = 4, 6
    for g in range(4):
        for h in range(4):
            block = C[g * rows : (g + 1) * rows, h * cols : (h + 1) * cols]
            assert (block.abs().sum() > 0) == (g == h)
    assert math.prod(C.shape) == 16 * 24


@pytest.mark.parametrize(
    ("weight", "size", "kwargs", "message"),
    [
        (torch.ones(1, 1, 3), [2, 2], {}, "size must have one entry per spatial axis"),
        (torch.ones(1, 1, 5), [3], {}, "does not fit"),
        (torch.ones(3, 1, 2), [4], {"groups": 2}, "groups must divide C_out"),
        (torch.ones(1, 1, 2), [4], {"stride": 0}, "stride must be positive"),
        (torch.ones(1, 1, 2), [4], {"groups": 0}, "groups must be positive"),
    ],
)
def test_errors_name_the_argument(weight: torch.Tensor, size: list, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        conv_matrix(weight, size, **kwargs)
