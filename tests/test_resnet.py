"""convlib.course.resnet: residual and plain blocks, their counts, the deep nets and their receptive fields."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import convlib.nn as cnn
from convlib.course.resnet import BasicBlock, Bottleneck, deep_net, small_resnet
from convlib.normalization import BatchNorm2d
from convlib.receptive_field import receptive_field


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def macs(module: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of one forward pass, from torch's FlopCounterMode (which counts 2 flops per multiply-add)."""
    with FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() // 2


def test_basic_block_computes_relu_of_f_plus_x() -> None:
    torch.manual_seed(0)
    block = BasicBlock(4, 4).double()
    x = torch.randn(3, 4, 6, 6, dtype=torch.float64)
    f = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(f + x))
    assert isinstance(block.shortcut, nn.Identity) and isinstance(block.bn1, BatchNorm2d)
    assert isinstance(block.conv1, cnn.Conv2d)


def test_plain_block_has_the_same_layers_and_no_shortcut() -> None:
    torch.manual_seed(0)
    residual = BasicBlock(4, 4).double()
    torch.manual_seed(0)
    plain = BasicBlock(4, 4, residual=False).double()
    assert plain.shortcut is None and n_params(plain) == n_params(residual)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    f = residual.bn2(residual.conv2(torch.relu(residual.bn1(residual.conv1(x)))))
    torch.testing.assert_close(plain(x), torch.relu(f))


@pytest.mark.parametrize(("c_in", "c_out", "stride"), [(8, 8, 1), (8, 16, 1), (8, 16, 2), (4, 4, 2)])
def test_basic_block_counts(c_in: int, c_out: int, stride: int) -> None:
    block = BasicBlock(c_in, c_out, stride).double()
    projection = stride != 1 or c_in != c_out
    assert isinstance(block.shortcut, nn.Sequential) == projection
    weights = 9 * c_in * c_out + 9 * c_out * c_out + (c_in * c_out if projection else 0)
    norms = 2 * c_out * (3 if projection else 2)  # gamma and beta per channel of each BatchNorm
    assert n_params(block) == weights + norms
    h = 14
    out = (h - 1) // stride + 1  # 3x3 padding 1 and 1x1 padding 0 give the same size
    x = torch.zeros(2, c_in, h, h, dtype=torch.float64)
    assert block(x).shape == (2, c_out, out, out)
    expected = 2 * out * out * (9 * c_in * c_out + 9 * c_out * c_out + (c_in * c_out if projection else 0))
    assert macs(block, x) == expected


@pytest.mark.parametrize(("c_in", "width", "c_out", "stride"), [(64, 16, 64, 1), (32, 16, 64, 2), (16, 4, 16, 1)])
def test_bottleneck_counts(c_in: int, width: int, c_out: int, stride: int) -> None:
    block = Bottleneck(c_in, width, c_out, stride).double()
    projection = stride != 1 or c_in != c_out
    weights = c_in * width + 9 * width * width + width * c_out + (c_in * c_out if projection else 0)
    norms = 2 * (width + width + c_out + (c_out if projection else 0))
    assert n_params(block) == weights + norms
    h = 8
    out = (h - 1) // stride + 1
    x = torch.zeros(1, c_in, h, h, dtype=torch.float64)
    assert block(x).shape == (1, c_out, out, out)
    # conv1 runs at the input's resolution; conv2 (strided), conv3 and the projection at the output's
    expected = h * h * c_in * width + out * out * (
        9 * width * width + width * c_out + (c_in * c_out if projection else 0)
    )
    assert macs(block, x) == expected


def test_bottleneck_plain_and_forward() -> None:
    torch.manual_seed(0)
    block = Bottleneck(8, 2, 8).double()
    x = torch.randn(2, 8, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(block(x), torch.relu(block.residual_path()(x) + x))
    assert Bottleneck(8, 2, 8, residual=False).shortcut is None


def test_convlib_and_torch_blocks_agree() -> None:
    torch.manual_seed(0)
    ours = BasicBlock(4, 8, 2).double()
    torch.manual_seed(0)
    ref = BasicBlock(4, 8, 2, conv=nn.Conv2d).double()
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("layers", [8, 14, 20])
@pytest.mark.parametrize("norm", [True, False])
def test_deep_net(layers: int, norm: bool) -> None:
    plain, residual = (deep_net(layers, 4, residual=r, norm=norm) for r in (False, True))
    n = (layers - 2) // 6
    convs = [m for m in plain.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == layers - 1 and all(len(stage) == n for stage in (plain.stage1, plain.stage2, plain.stage3))
    projections = (4 * 8 + 8 * 16) + (2 * (8 + 16) if norm else 8 + 16)  # 1x1 weights, then BatchNorm or biases
    assert n_params(residual) - n_params(plain) == projections
    assert all((m.bias is None) == norm for m in convs)
    assert residual(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert plain[:7](torch.zeros(1, 1, 28, 28)).shape == (1, 16, 2, 2)
    field = receptive_field(residual[:7])[-1]
    assert field == receptive_field(plain[:7])[-1]  # the shortcuts' fields lie inside the convolutions'
    # stem 3 (jump 2), pool +2 (jump 4); stage 1: 2n convs of 2 jumps; stages 2 and 3: a strided conv, then 2n - 1 more
    assert field.size == (3 + 2 + 2 * n * 8 + 8 + (2 * n - 1) * 16 + 16 + (2 * n - 1) * 32,) * 2
    assert field.jump == (16, 16)


def test_small_resnet() -> None:
    net = small_resnet(8)
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert isinstance(net.stage2.shortcut, nn.Sequential) and isinstance(net.stage1.shortcut, nn.Identity)
    rf = receptive_field(net[:6])[-1]
    assert rf.jump == (4, 4) and rf.size == (3 + 1 + 2 * 2 * 2 + 2 * 2 + 2 * 4,) * 2  # stem, pool, stage 1, stage 2


def ones_block(c: int, stride: int) -> BasicBlock:
    """A BasicBlock without BatchNorm whose weights are all ones: every path adds +1 to a gradient."""
    block = BasicBlock(c, c if stride == 1 else 2 * c, stride, norm=False).double()
    for m in block.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return block


@pytest.mark.parametrize("blocks", [[1], [1, 1], [2, 1], [1, 2, 1]])
def test_receptive_field_of_residual_stack_matches_gradients(blocks: list[int]) -> None:
    layers: list[nn.Module] = [nn.Conv2d(1, 2, 3, padding=1, bias=False).double()]
    nn.init.ones_(layers[0].weight)
    c = 2
    for stride in blocks:
        layers.append(ones_block(c, stride))
        c = c if stride == 1 else 2 * c
    net = nn.Sequential(*layers)
    rf = receptive_field(net)[-1]
    x = torch.ones(1, 1, 48, 48, dtype=torch.float64, requires_grad=True)
    y = net(x)
    unit = y.shape[2] // 2
    y[0, 0, unit, unit].backward()
    assert x.grad is not None
    rows = x.grad[0, 0].ne(0).any(dim=1).nonzero().flatten()
    centre = rf.start[0] + unit * rf.jump[0]
    assert (rows.min().item(), rows.max().item()) == (centre - (rf.size[0] - 1) / 2, centre + (rf.size[0] - 1) / 2)
    assert rows.min() > 0 and rows.max() < 47  # the field lies inside the input


def test_errors() -> None:
    with pytest.raises(ValueError, match="6n"):
        deep_net(10, residual=True)
    with pytest.raises(ValueError, match="layers must be an int >= 8"):
        deep_net(2, residual=True)
    with pytest.raises(ValueError, match="stride"):
        BasicBlock(2, 2, 0)
    with pytest.raises(ValueError, match="channels"):
        small_resnet(0)
