"""A tiny vision transformer for 28×28 digits, built from :mod:`convlib.attention`.

The layout is the ViT's (Dosovitskiy et al. 2021) at a toy scale: 7×7 patches embedded by a
convolution with kernel = stride = 7 (16 tokens), learned absolute position embeddings, pre-norm
transformer blocks (multi-head self-attention, then a two-layer MLP with GELU, each in a residual
branch), a final LayerNorm, the mean of the tokens, and a linear classifier. The mean of the tokens
replaces the ViT's class token, which some later ViTs do too; it saves a token and a parameter vector.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from convlib.attention import PatchEmbedding, RelativeSelfAttention


class Block(nn.Module):
    """One pre-norm transformer block: ``x + MHSA(LN(x))``, then ``x + MLP(LN(x))``.

    Args:
        dim: token size.
        heads: attention heads (each of size ``dim / heads``).
        hidden: hidden units of the MLP.
        size: the token grid ``(H, W)``.
        relative: also learn a score per head and relative offset (``False``: content scores only).

    Shapes:
        ``(N, H W, dim) -> (N, H W, dim)``.

    >>> Block(32, 2, 64, (4, 4))(torch.zeros(3, 16, 32)).shape
    torch.Size([3, 16, 32])
    """

    def __init__(self, dim: int, heads: int, hidden: int, size: tuple[int, int], relative: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = RelativeSelfAttention(dim, heads, dim // heads, dim, size, relative=relative)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend, then think per token."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def tiny_vit(
    dim: int = 32, depth: int = 1, heads: int = 2, hidden: int = 64, patch: int = 7, image: int = 28, classes: int = 10
) -> nn.Sequential:
    """A vision transformer for ``image × image`` grey images, cut into ``patch × patch`` patches.

    Args:
        dim: token size.
        depth: number of transformer blocks.
        heads: attention heads per block.
        hidden: hidden units of each block's MLP.
        patch: patch side; ``image`` must be a multiple of it.
        image: image side.
        classes: number of outputs.

    Returns:
        ``nn.Sequential`` of embed (:class:`~convlib.attention.PatchEmbedding`), blocks, norm, pool
        (mean over tokens), head.

    Shapes:
        (N, 1, 28, 28) -embed-> (N, 16, dim) -blocks-> (N, 16, dim) -pool-> (N, dim) -> (N, classes).

    >>> sum(p.numel() for p in tiny_vit().parameters())  # embed 49*32+32 + 16*32, block 8,448, norm 64, head 330
    10954
    """
    if image % patch:
        raise ValueError(f"tiny_vit: image={image} must be a multiple of patch={patch}")
    side = image // patch
    return nn.Sequential(
        OrderedDict(
            embed=PatchEmbedding(1, dim, patch, tokens=side * side),
            blocks=nn.Sequential(*(Block(dim, heads, hidden, (side, side)) for _ in range(depth))),
            norm=nn.LayerNorm(dim),
            pool=TokenMean(),
            head=nn.Linear(dim, classes),
        )
    )


class TokenMean(nn.Module):
    """The mean over the tokens: ``(N, L, D) -> (N, D)``.

    >>> TokenMean()(torch.ones(2, 16, 8)).shape
    torch.Size([2, 8])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Average the tokens."""
        return x.mean(dim=1)
