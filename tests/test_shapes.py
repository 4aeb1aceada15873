"""convlib.shapes: size formulas against real torch outputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convlib.shapes import conv_output_size, conv_transpose_output_size, pool_output_size

kernels, strides, dilations = st.integers(1, 5), st.integers(1, 4), st.integers(1, 3)


# ---------------------------------------------------------------- output sizes


@given(size=st.integers(1, 20), k=kernels, s=strides, p=st.integers(0, 3), d=dilations)
def test_conv_output_size_matches_torch(size: int, k: int, s: int, p: int, d: int) -> None:
    expected = conv_output_size(size, k, s, p, d)
    x, w = torch.zeros(1, 1, size, 3), torch.zeros(1, 1, k, 1)
    if expected < 1:  # the kernel does not fit: torch refuses the same combinations
        with pytest.raises(RuntimeError):
            F.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1))
    else:
        assert F.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1)).shape[2] == expected


@given(size=st.integers(1, 12), k=kernels, s=strides, d=dilations, data=st.data())
def test_conv_transpose_output_size_matches_torch(size: int, k: int, s: int, d: int, data: st.DataObject) -> None:
    out_pad = data.draw(st.integers(0, max(s, d) - 1))
    full = (size - 1) * s + d * (k - 1) + out_pad + 1  # length before cropping the padding
    p = data.draw(st.integers(0, (full - 1) // 2))  # keep at least one output position
    x, w = torch.zeros(1, 1, size), torch.zeros(1, 1, k)
    out = F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=out_pad, dilation=d)
    assert out.shape[-1] == conv_transpose_output_size(size, k, s, p, out_pad, d)


@given(k=kernels, s=st.none() | strides, d=dilations, ceil_mode=st.booleans(), data=st.data())
def test_pool_output_size_matches_torch(k: int, s: int | None, d: int, ceil_mode: bool, data: st.DataObject) -> None:
    p = data.draw(st.integers(0, k // 2))
    size = data.draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 20))
    x = torch.zeros(1, 1, size)
    expected = pool_output_size(size, k, s, p, d, ceil_mode)
    assert F.max_pool1d(x, k, s, p, d, ceil_mode).shape[-1] == expected
    if d == 1:
        assert F.avg_pool1d(x, k, s, p, ceil_mode).shape[-1] == expected


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [
        (conv_output_size, {"kernel_size": 0}, "kernel_size must be positive"),
        (conv_output_size, {"kernel_size": 3, "stride": 0}, "stride must be positive"),
        (conv_output_size, {"kernel_size": 3, "padding": -1}, "padding must be non-negative"),
        (conv_output_size, {"kernel_size": 3, "dilation": 0}, "dilation must be positive"),
        (conv_transpose_output_size, {"kernel_size": 3, "stride": 2, "output_padding": 2}, "output_padding"),
        (pool_output_size, {"kernel_size": -2}, "kernel_size must be positive"),
    ],
)
def test_size_functions_reject_impossible_arguments(fn, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(8, **kwargs)
