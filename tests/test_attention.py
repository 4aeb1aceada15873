"""convlib.attention against torch: patch embeddings, scaled dot-product attention, and a convolution as attention."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convlib import functional
from convlib.attention import (
    PatchEmbedding,
    RelativeSelfAttention,
    attention,
    attention_from_conv,
    patch_embedding,
    patchify,
    quadratic_scores,
    relative_offsets,
)


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _tokens(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(2).transpose(1, 2)  # (N, C, H, W) -> (N, H W, C)


@given(
    patch=st.integers(1, 4),
    rows=st.integers(1, 3),
    cols=st.integers(1, 3),
    c=st.integers(1, 3),
    seed=st.integers(0, 99),
)
def test_patch_embedding_is_patches_times_a_matrix(patch: int, rows: int, cols: int, c: int, seed: int) -> None:
    x, w, b = (
        _randn(2, c, rows * patch, cols * patch, seed=seed),
        _randn(5, c, patch, patch, seed=seed + 1),
        _randn(5, seed=seed),
    )
    by_conv = patch_embedding(x, w, b)
    by_linear = patchify(x, patch) @ w.flatten(1).T + b  # (N, L, C p p) @ (C p p, D)
    torch.testing.assert_close(by_conv, by_linear)
    torch.testing.assert_close(by_conv, _tokens(F.conv2d(x, w, b, stride=patch)))
    assert by_conv.shape == (2, rows * cols, 5)


def test_patchify_order() -> None:
    x = torch.arange(2 * 4 * 4.0).view(1, 2, 4, 4)
    patches = patchify(x, 2)
    assert patches.shape == (1, 4, 8)
    assert patches[0, 2].tolist() == [8, 9, 12, 13, 24, 25, 28, 29]  # patch (1, 0): channel 0 then channel 1


def test_patch_embedding_layer() -> None:
    torch.manual_seed(0)
    layer = PatchEmbedding(1, 8, 7, tokens=16)
    x = torch.randn(3, 1, 28, 28)
    expected = patch_embedding(x, layer.proj.weight, layer.proj.bias) + layer.position
    torch.testing.assert_close(layer(x), expected)
    assert sum(p.numel() for p in layer.parameters()) == 49 * 8 + 8 + 16 * 8
    image = torch.rand(1, 1, 28, 28, requires_grad=True)
    layer(image)[0, 5].sum().backward()  # token 5 is the patch in rows 7-13, columns 7-13
    assert image.grad is not None
    outside = image.grad.clone()
    outside[..., 7:14, 7:14] = 0
    assert torch.count_nonzero(outside) == 0 and torch.count_nonzero(image.grad) == 49


@given(lq=st.integers(1, 6), lk=st.integers(1, 6), d=st.integers(1, 5), seed=st.integers(0, 99))
def test_attention_is_torchs_sdpa(lq: int, lk: int, d: int, seed: int) -> None:
    q, k, v = _randn(2, 3, lq, d, seed=seed), _randn(2, 3, lk, d, seed=seed + 1), _randn(2, 3, lk, 4, seed=seed + 2)
    bias = _randn(3, lq, lk, seed=seed + 3)
    torch.testing.assert_close(attention(q, k, v, bias), F.scaled_dot_product_attention(q, k, v, attn_mask=bias))
    torch.testing.assert_close(attention(q, k, v), F.scaled_dot_product_attention(q, k, v))


def test_content_attention_is_torchs_multihead_attention() -> None:
    """Without relative scores and padding, the layer is nn.MultiheadAttention with the same weights."""
    torch.manual_seed(0)
    ours = RelativeSelfAttention(8, heads=2, head_dim=4, out_dim=8, size=(3, 4), relative=False).double()
    theirs = nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        assert theirs.in_proj_bias is not None
        theirs.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))  # type: ignore[union-attr]
        theirs.in_proj_bias.zero_()
        theirs.out_proj.weight.copy_(ours.out.weight)
        theirs.out_proj.bias.copy_(ours.out.bias)
    x = _randn(5, 12, 8, seed=1)
    torch.testing.assert_close(ours(x), theirs(x, x, x, need_weights=False)[0])


def test_relative_scores_depend_on_the_offset_only() -> None:
    torch.manual_seed(0)
    layer = RelativeSelfAttention(4, heads=3, head_dim=2, out_dim=4, size=(3, 5), padding=1).double()
    with torch.no_grad():
        layer.table.copy_(_randn(*layer.table.shape, seed=2))  # type: ignore[union-attr]
    scores = layer.position_scores()
    assert scores is not None
    offsets = relative_offsets(3, 5, padding=1)  # (15, 35, 2)
    cells = layer.table_offsets()  # (2*4-1, 2*6-1, 2)
    for q in range(15):
        for key in range(35):
            dy, dx = offsets[q, key].tolist()
            i, j = dy + layer.centre[0], dx + layer.centre[1]
            assert cells[i, j].tolist() == [dy, dx]
            assert torch.equal(scores[:, q, key], layer.table[:, i, j])  # type: ignore[index]


def test_relative_attention_is_sdpa_with_a_bias() -> None:
    torch.manual_seed(0)
    layer = RelativeSelfAttention(6, heads=2, head_dim=3, out_dim=5, size=(2, 3), padding=1).double()
    with torch.no_grad():
        layer.table.copy_(_randn(*layer.table.shape, seed=4))  # type: ignore[union-attr]
    x = _randn(3, 6, 6, seed=5)
    keys = _tokens(F.pad(x.transpose(1, 2).reshape(3, 6, 2, 3), (1, 1, 1, 1)))  # (3, 20, 6), zero padding tokens
    split = layer._split
    q, k, v = split(layer.query(x)), split(layer.key(keys)), split(layer.value(keys))  # type: ignore[misc]
    mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=layer.position_scores())
    torch.testing.assert_close(layer(x), layer.out(mixed.transpose(1, 2).flatten(2)))


@given(
    k=st.sampled_from([1, 3, 5]),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    bias=st.booleans(),
    seed=st.integers(0, 999),
)
def test_attention_from_conv_equals_conv2d(
    k: int, h: int, w: int, c_in: int, c_out: int, bias: bool, seed: int
) -> None:
    """k² heads of hard positional attention compute the k x k convolution, borders included."""
    x, weight = _randn(2, c_in, h, w, seed=seed), _randn(c_out, c_in, k, k, seed=seed + 1)
    b = _randn(c_out, seed=seed + 2) if bias else None
    layer = attention_from_conv(weight, b, (h, w))
    y = layer(_tokens(x)).transpose(1, 2).reshape(2, c_out, h, w)
    torch.testing.assert_close(y, functional.conv2d(x, weight, b, padding=k // 2), rtol=0, atol=1e-12)
    torch.testing.assert_close(y, F.conv2d(x, weight, b, padding=k // 2), rtol=0, atol=1e-12)
    assert layer.heads == k * k


def test_soft_attention_approaches_the_conv() -> None:
    x, weight = _randn(1, 2, 5, 5, seed=0), _randn(3, 2, 3, 3, seed=1)
    target = F.conv2d(x, weight, padding=1)
    errors = []
    for alpha in (1.0, 5.0, 10.0, 20.0, 40.0):
        y = attention_from_conv(weight, None, (5, 5), alpha=alpha)(_tokens(x)).transpose(1, 2).reshape(1, 3, 5, 5)
        errors.append((y - target).abs().max().item())
    assert all(a > b for a, b in itertools.pairwise(errors))
    assert errors[-1] < 1e-12 < errors[-2] < 1e-5


def test_quadratic_scores() -> None:
    offsets = relative_offsets(2, 2)
    s = quadratic_scores(offsets, torch.tensor([[0, 1], [1, 0]]), alpha=3.0)
    assert s.shape == (2, 4, 4)
    assert s[0, 0].tolist() == [-3.0, 0.0, -6.0, -3.0]  # query (0, 0): keys at offsets (0,0), (0,1), (1,0), (1,1)
    hard = quadratic_scores(offsets, torch.tensor([[0, 1]]), alpha=math.inf)
    assert hard[0, 0].tolist() == [-math.inf, 0.0, -math.inf, -math.inf]


def test_errors() -> None:
    with pytest.raises(ValueError, match="multiples of patch=3"):
        patchify(torch.zeros(1, 1, 7, 6), 3)
    with pytest.raises(ValueError, match="odd side"):
        attention_from_conv(torch.zeros(1, 1, 2, 2), None, (4, 4))
    with pytest.raises(ValueError, match="alpha must be positive"):
        quadratic_scores(relative_offsets(2, 2), torch.zeros(1, 2, dtype=torch.int64), alpha=0.0)
    with pytest.raises(ValueError, match="needs content or relative scores"):
        RelativeSelfAttention(4, 1, 4, 4, (2, 2), content=False, relative=False)
    with pytest.raises(ValueError, match="expected 2x2=4 tokens, got 5"):
        RelativeSelfAttention(4, 1, 4, 4, (2, 2))(torch.zeros(1, 5, 4))
