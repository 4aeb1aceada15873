"""convlib.dependency: the exact input set of a unit, against the gradient, and through dilation and borders."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from torch import nn

from convlib.dependency import dependency_mask
from convlib.receptive_field import Layer, receptive_field


@st.composite
def decoder_stacks(draw: st.DrawFn) -> nn.Sequential:
    """A random 2-D stack of convs, average pools, transposed convs and nearest upsampling, all-ones weights."""
    layers: list[nn.Module] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "pool", "transposed", "upsample", "relu"]))
        k = tuple(draw(st.integers(1, 4)) for _ in range(2))
        s = tuple(draw(st.integers(1, 2)) for _ in range(2))
        d = tuple(draw(st.integers(1, 3)) for _ in range(2))
        p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
        if kind == "conv":
            layers.append(nn.Conv2d(1, 1, k, s, p, d, bias=False))
        elif kind == "pool":
            layers.append(nn.AvgPool2d(k, s, p))
        elif kind == "transposed":
            out_pad = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
            layers.append(nn.ConvTranspose2d(1, 1, k, s, p, out_pad, bias=False, dilation=d))
        elif kind == "upsample":
            layers.append(nn.Upsample(scale_factor=draw(st.integers(1, 3)), mode="nearest"))
        else:
            layers.append(nn.ReLU())
    for layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            torch.nn.init.ones_(layer.weight)
    return nn.Sequential(*layers).double()


@given(model=decoder_stacks(), height=st.integers(4, 16), width=st.integers(4, 16), data=st.data())
def test_dependency_mask_is_where_the_gradient_is_nonzero(
    model: nn.Sequential, height: int, width: int, data: st.DataObject
) -> None:
    # positive weights and inputs: no cancellation and every ReLU open, so the gradient is non-zero
    # exactly on the pixels with a path to the unit (the ones-skeleton of chapter 04)
    x = torch.ones(1, 1, height, width, dtype=torch.float64, requires_grad=True)
    try:
        y = model(x)
    except RuntimeError:  # torch refuses sizes that leave no output: draw another case
        y = torch.zeros(0)
    assume(y.numel() > 0)
    unit = (data.draw(st.integers(0, y.shape[2] - 1)), data.draw(st.integers(0, y.shape[3] - 1)))
    y[0, 0, unit[0], unit[1]].backward()
    assert x.grad is not None
    assert torch.equal(dependency_mask(model, (height, width), unit), x.grad[0, 0] != 0)


def test_dependency_mask_gridding_of_equal_dilations() -> None:
    """Wang et al. 2018: three 3x3 layers of dilation 2 see a quarter of their 13x13 field; 1, 2, 3 see all."""
    equal = dependency_mask([Layer(3, 1, 2, 2)] * 3, (31, 31), (15, 15))
    hybrid = dependency_mask([Layer(3, 1, r, r) for r in (1, 2, 3)], (31, 31), (15, 15))
    assert receptive_field([Layer(3, 1, 2, 2)] * 3)[-1].size == (13,)
    assert int(equal.sum()) == 7 * 7 and int(hybrid.sum()) == 13 * 13
    rows = equal.any(1).nonzero().flatten().tolist()
    assert rows == list(range(9, 22, 2))  # only pixels an even distance from the unit
    assert torch.equal(hybrid[9:22, 9:22], torch.ones(13, 13, dtype=torch.bool))


def test_dependency_mask_1d_borders_and_negative_units() -> None:
    layers = [nn.Conv1d(1, 1, 3, padding=1), nn.MaxPool1d(2), nn.Conv1d(1, 1, 3, padding=1)]
    # unit 0 reads pooled units -1 (padding), 0, 1, hence conv1 units 0..3, hence pixels -1 (padding) .. 4
    assert dependency_mask(layers, 10, 0).nonzero().flatten().tolist() == [0, 1, 2, 3, 4]
    assert torch.equal(dependency_mask(layers, 10, -1), dependency_mask(layers, 10, 4))
    same = nn.Conv1d(1, 1, 4, padding="same")  # torch pads 1 on the left, 2 on the right
    assert dependency_mask([same], 8, 3).nonzero().flatten().tolist() == [2, 3, 4, 5]


@pytest.mark.parametrize(
    ("layers", "size", "unit", "match"),
    [
        ([Layer(3)], 5, 3, "outside the output"),
        ([Layer(3)], (5, 5), 1, "one per axis"),
        ([nn.Upsample(scale_factor=2, mode="bilinear")], (4, 4), (0, 0), "nearest"),
        ([nn.Upsample(scale_factor=1.5)], (4, 4), (0, 0), "nearest"),
        ([nn.MaxPool2d(2, ceil_mode=True)], (5, 5), (0, 0), "ceil_mode"),
        ([nn.Linear(3, 3)], 5, 0, "not a conv"),
    ],
)
def test_dependency_mask_rejects(layers: list, size: object, unit: object, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        dependency_mask(layers, size, unit)  # type: ignore[arg-type]
