"""convlib.course.vit: the tiny vision transformer's shapes and parameter count."""

from __future__ import annotations

import pytest
import torch

from convlib.course.vit import Block, TokenMean, tiny_vit


def test_shapes_and_parameters() -> None:
    torch.manual_seed(0)
    model = tiny_vit()
    x = torch.rand(5, 1, 28, 28)
    assert model(x).shape == (5, 10)
    assert model.embed(x).shape == (5, 16, 32)  # 4 x 4 patches of 7 x 7
    embed = 49 * 32 + 32 + 16 * 32
    block = 2 * 2 * 32 + 3 * 32 * 32 + (32 * 32 + 32) + (32 * 64 + 64) + (64 * 32 + 32)  # norms, qkv, out, MLP
    assert sum(p.numel() for p in model.blocks.parameters()) == block
    assert sum(p.numel() for p in model.parameters()) == embed + block + 2 * 32 + (32 * 10 + 10)
    assert sum(p.numel() for p in tiny_vit(depth=2).parameters()) == embed + 2 * block + 2 * 32 + 330


def test_block_and_pool() -> None:
    torch.manual_seed(0)
    block = Block(8, 2, 16, (2, 2))
    x = torch.randn(3, 4, 8)
    assert block(x).shape == (3, 4, 8)
    assert torch.equal(TokenMean()(x), x.mean(1))


def test_errors() -> None:
    with pytest.raises(ValueError, match="multiple of patch=5"):
        tiny_vit(patch=5)
