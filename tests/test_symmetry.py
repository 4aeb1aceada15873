"""convlib.course.symmetry: the chapter 14 networks' shapes, sizes and invariance, and the rotation of digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from convlib.course.symmetry import fast, p4_cnn, plain_cnn, rotate_digits
from convlib.groups import rotate


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_shapes_and_parameter_counts() -> None:
    torch.manual_seed(0)
    p4, plain = p4_cnn(), plain_cnn()
    x = torch.rand(3, 1, 28, 28)
    assert p4(x).shape == plain(x).shape == (3, 10)
    assert _params(p4) == (4 * 25 + 4) + (8 * 4 * 4 * 9 + 8) + (16 * 8 * 4 * 9 + 16) + 2 * (4 + 8 + 16) + 170
    assert _params(plain) == (8 * 25 + 8) + (16 * 8 * 9 + 16) + (32 * 16 * 9 + 32) + 2 * (8 + 16 + 32) + 330
    assert 0 < _params(plain) - _params(p4) < 0.06 * _params(plain)  # the same budget; the p4 one 5% smaller
    assert p4[:5](x).shape == (3, 4, 4, 7, 7)  # after the lift, BatchNorm, ReLU and the first pool
    assert plain_cnn((12, 24, 32), downsample=False)(x).shape == (3, 10)
    small = plain_cnn((8, 32, 24), pool2=True)
    assert small[:9](x).shape == (3, 32, 3, 3) and small(x).shape == (3, 10)
    assert _params(small) == (8 * 25 + 8) + (32 * 8 * 9 + 32) + (24 * 32 * 9 + 24) + 2 * (8 + 32 + 24) + 250


@pytest.mark.parametrize("train", [False, True])
def test_p4_cnn_is_invariant_to_quarter_turns(train: bool) -> None:
    torch.manual_seed(0)
    model = p4_cnn().double().train(train)
    x = torch.rand(4, 1, 28, 28, dtype=torch.float64)
    logits = model(x)
    for r in (1, 2, 3):
        torch.testing.assert_close(model(rotate(x, r)), logits, rtol=0, atol=1e-10)
    plain = plain_cnn().double().eval()
    assert (plain(rotate(x, 1)) - plain(x)).abs().max() > 1e-3  # the ordinary CNN is not


def test_fast_computes_the_same() -> None:
    torch.manual_seed(0)
    model = p4_cnn().double().eval()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    before = model(x)
    assert fast(model) is model and model.gconv2.conv is F.conv2d
    torch.testing.assert_close(model(x), before, rtol=0, atol=1e-12)


def test_rotate_digits() -> None:
    x = torch.rand(3, 28, 28, dtype=torch.float64)
    for r in (1, 2, 3):
        torch.testing.assert_close(rotate_digits(x, 90.0 * r), rotate(x, r), rtol=0, atol=1e-12)
    turned = rotate_digits(x, 45.0)
    expected = ndimage.rotate(x.numpy(), 45.0, axes=(-1, -2), reshape=False, order=1)
    np.testing.assert_array_equal(turned.numpy(), expected)
    assert turned.dtype == torch.float64 and turned.shape == x.shape
    assert rotate_digits(x.float(), 30.0).dtype == torch.float32
    torch.testing.assert_close(rotate_digits(x, 0.0), x)
