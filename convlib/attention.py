"""Convolution and self-attention: patch embeddings, relative-position attention, and a convolution as attention.

- A vision transformer (Dosovitskiy et al. 2021) cuts an image into non-overlapping patches and maps
  each one linearly to a token: :func:`patch_embedding` is a convolution whose kernel size and stride
  are both the patch size, and :func:`patchify` is the same thing as a reshape, for a linear layer.
- :func:`attention` is ``softmax(q kᵀ / √d + bias) v``, the readable form of
  ``torch.nn.functional.scaled_dot_product_attention``; :class:`RelativeSelfAttention` is a multi-head
  self-attention layer on a grid of tokens whose scores may add a learned score for each *relative*
  offset between query and key.
- :func:`attention_from_conv` builds, from a ``k×k`` convolution, a :class:`RelativeSelfAttention`
  with ``k²`` heads that computes it (Cordonnier, Loukas & Jaggi, ICLR 2020): head ``h`` attends to one
  offset ``Δ_h`` with the quadratic scores ``-α‖δ - Δ_h‖²`` (one-hot when ``α = ∞``), its value is
  the token itself, and the output projection of head ``h`` holds the kernel's weights at ``Δ_h``.

Tokens are laid out row-major over the grid: token ``i * W + j`` is grid cell ``(i, j)``. Keys and
values may include a border of *padding tokens*, zero vectors, so that zero padding is exact: a
head that looks past the image edge reads a zero, as the convolution does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from convlib import functional
from convlib.nn import Conv2d


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Cut images into non-overlapping ``patch × patch`` patches, each flattened in (C, row, column) order.

    Args:
        x: ``(N, C, H, W)`` with ``H`` and ``W`` multiples of ``patch``.
        patch: the patch side.

    Returns:
        ``(N, L, C * patch * patch)`` with ``L = (H / patch) * (W / patch)`` patches in row-major order.

    Shapes:
        ``(N, C, H, W) -> (N, (H/p)(W/p), C p p)``.

    >>> patchify(torch.arange(16.0).view(1, 1, 4, 4), 2)[0, 1]  # second patch: rows 0-1, columns 2-3
    tensor([2., 3., 6., 7.])
    """
    n, c, h, w = x.shape
    if h % patch or w % patch:
        raise ValueError(f"patchify: H and W must be multiples of patch={patch}, got {h}x{w}")
    x = x.view(n, c, h // patch, patch, w // patch, patch)  # (N, C, H/p, p, W/p, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (N, H/p, W/p, C, p, p)
    return x.reshape(n, (h // patch) * (w // patch), c * patch * patch)  # (N, L, C p p)


def patch_embedding(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    conv: Callable[..., torch.Tensor] = functional.conv2d,
) -> torch.Tensor:
    """A ViT's patch embedding: a convolution with kernel size = stride = patch size, then a flatten.

    It equals ``patchify(x, p) @ weight.flatten(1).T + bias``: every patch meets the kernel exactly
    once, so the convolution is one linear map applied to each patch.

    Args:
        x: ``(N, C, H, W)``.
        weight: ``(D, C, p, p)``, one ``p × p`` kernel per embedding dimension.
        bias: ``(D,)`` or ``None``.
        conv: the convolution to run (``convlib.functional.conv2d`` by default).

    Returns:
        tokens ``(N, L, D)``, ``L = (H / p)(W / p)``, row-major.

    >>> patch_embedding(torch.zeros(2, 3, 28, 28), torch.zeros(32, 3, 7, 7)).shape  # 4 x 4 patches
    torch.Size([2, 16, 32])
    """
    p = weight.shape[-1]
    y = conv(x, weight, bias, stride=p)  # (N, D, H/p, W/p)
    return y.flatten(2).transpose(1, 2)  # (N, L, D)


class PatchEmbedding(nn.Module):
    """:func:`patch_embedding` as a layer, with :class:`convlib.nn.Conv2d` and learned position embeddings.

    The convolution runs convlib's im2col algorithm (forward and backward), so a token's gradient
    is exactly zero outside its patch.

    Args:
        in_channels: ``C``.
        dim: ``D``, the token size.
        patch: ``p``.
        tokens: ``L``; a learned vector per token position is added (``None``: no position embedding).

    >>> PatchEmbedding(1, 32, 7, tokens=16)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 16, 32])
    """

    def __init__(self, in_channels: int, dim: int, patch: int, tokens: int | None = None) -> None:
        super().__init__()
        # im2col of a convolution whose stride is its kernel size is exactly patchify: no overlap, no copy twice
        self.proj = Conv2d(in_channels, dim, patch, stride=patch, method="im2col")
        self.position = None if tokens is None else nn.Parameter(0.02 * torch.randn(tokens, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens of the images ``x``."""
        tokens = self.proj(x).flatten(2).transpose(1, 2)  # (N, D, H/p, W/p) -> (N, L, D)
        return tokens if self.position is None else tokens + self.position


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention, ``softmax(q kᵀ / √d + bias) v``.

    Args:
        q: queries ``(..., L_q, d)``.
        k: keys ``(..., L_k, d)``.
        v: values ``(..., L_k, d_v)``.
        bias: added to the scores, ``(..., L_q, L_k)`` (broadcast); ``-inf`` forbids a key.

    Returns:
        ``(..., L_q, d_v)``, each row a weighted mean of the values.

    >>> v = torch.tensor([[1.0], [3.0]])
    >>> attention(torch.zeros(1, 1), torch.zeros(2, 1), v)  # equal scores: the mean of the values
    tensor([[2.]])
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., L_q, L_k)
    if bias is not None:
        scores = scores + bias
    return scores.softmax(dim=-1) @ v  # (..., L_q, d_v)


def relative_offsets(height: int, width: int, padding: int = 0) -> torch.Tensor:
    """Offset (key position − query position) of every query of an ``H × W`` grid to every key.

    Keys lie on the grid padded by ``padding`` cells on each side, row-major, so that key ``m``
    of the padded grid sits at ``(m // (W + 2p) - p, m % (W + 2p) - p)``.

    Args:
        height: ``H``.
        width: ``W``.
        padding: ``p``.

    Returns:
        int64 ``(H W, (H + 2p)(W + 2p), 2)``: ``(dy, dx)`` per query and key.

    >>> relative_offsets(1, 3)[0].tolist()  # query at column 0: keys at columns 0, 1, 2
    [[0, 0], [0, 1], [0, 2]]
    """
    q = torch.cartesian_prod(torch.arange(height), torch.arange(width))  # (H W, 2)
    k = torch.cartesian_prod(torch.arange(-padding, height + padding), torch.arange(-padding, width + padding))
    return k[None, :, :] - q[:, None, :]  # (H W, (H+2p)(W+2p), 2)


def quadratic_scores(offsets: torch.Tensor, centres: torch.Tensor, alpha: float) -> torch.Tensor:
    """Cordonnier et al.'s positional scores ``-α‖δ - Δ_h‖²``: head ``h`` prefers the offset ``Δ_h``.

    The softmax of these scores over the keys peaks at ``δ = Δ_h``; the other weights are at most
    ``e^{-α}`` times the peak, and with ``alpha=math.inf`` they are exactly zero (hard attention).

    Args:
        offsets: ``(..., 2)``, offsets ``δ = (dy, dx)``.
        centres: ``(heads, 2)``: the offset ``Δ_h`` of each head.
        alpha: sharpness ``α > 0``, or ``math.inf``.

    Returns:
        ``(heads, ...)``, in torch's default dtype.

    >>> quadratic_scores(torch.tensor([[0, 0], [0, 1], [0, 2]]), torch.tensor([[0, 1]]), alpha=2.0).tolist()
    [[-2.0, -0.0, -2.0]]
    """
    if not alpha > 0:
        raise ValueError(f"quadratic_scores: alpha must be positive, got {alpha!r}")
    diff = offsets[None] - centres.view(-1, *([1] * (offsets.ndim - 1)), 2)  # (heads, ..., 2)
    dist2 = diff.pow(2).sum(-1).to(torch.get_default_dtype())  # (heads, ...)
    if math.isinf(alpha):
        return torch.where(dist2 == 0, 0.0, -math.inf)
    return -alpha * dist2


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention on an ``H × W`` grid of tokens, with relative-position scores.

    Head ``h`` scores query ``i`` against key ``j`` with ``q_i·k_j / √d`` (if ``content``) plus
    ``table[h, δ]``, a learned score that depends only on the offset ``δ`` from query to key (if
    ``relative``). The heads' outputs are concatenated and projected: ``Y = concat_h(A_h V_h) W_o + b_o``.

    Args:
        dim: token size ``D``.
        heads: number of heads.
        head_dim: size of each head's queries, keys and values.
        out_dim: output token size.
        size: the grid ``(H, W)``; the input holds ``H W`` tokens, row-major.
        padding: border of zero padding tokens added around the grid for keys and values.
        content: whether scores include ``q·k``; without it they depend on position alone.
        relative: whether to learn a score per head and offset (``False``: content scores only,
            as in the original ViT, which adds absolute position embeddings to the tokens instead).

    Shapes:
        ``(N, H W, D) -> (N, H W, out_dim)``.

    >>> m = RelativeSelfAttention(8, heads=2, head_dim=4, out_dim=8, size=(3, 3))
    >>> m(torch.zeros(5, 9, 8)).shape
    torch.Size([5, 9, 8])
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        head_dim: int,
        out_dim: int,
        size: tuple[int, int],
        padding: int = 0,
        content: bool = True,
        relative: bool = True,
    ) -> None:
        super().__init__()
        if not (content or relative):
            raise ValueError("RelativeSelfAttention: needs content or relative scores, got neither")
        self.heads, self.head_dim, self.size, self.padding = heads, head_dim, size, padding
        inner = heads * head_dim
        self.query = nn.Linear(dim, inner, bias=False) if content else None
        self.key = nn.Linear(dim, inner, bias=False) if content else None
        self.value = nn.Linear(dim, inner, bias=False)  # no bias: a padding token's value stays zero
        self.out = nn.Linear(inner, out_dim)
        h, w = size
        span = (2 * (h + padding) - 1, 2 * (w + padding) - 1)  # every offset a query can see
        self.table = nn.Parameter(torch.zeros(heads, *span)) if relative else None  # score per head and offset
        self.centre = (h + padding - 1, w + padding - 1)  # the table cell of offset (0, 0)
        offsets = relative_offsets(h, w, padding) + torch.tensor(self.centre)
        self.index: torch.Tensor
        self.register_buffer("index", offsets, persistent=False)  # (L_q, L_k, 2): offset -> table cell

    def table_offsets(self) -> torch.Tensor:
        """The offset ``(dy, dx)`` that each cell of ``table`` scores, ``(2(H+p)-1, 2(W+p)-1, 2)``."""
        (h, w), p = self.size, self.padding
        dy, dx = torch.arange(-(h + p - 1), h + p), torch.arange(-(w + p - 1), w + p)
        return torch.stack(torch.meshgrid(dy, dx, indexing="ij"), dim=-1)

    def position_scores(self) -> torch.Tensor | None:
        """The positional scores of every head, query and key, ``(heads, L_q, L_k)``, or ``None``."""
        if self.table is None:
            return None
        return self.table[:, self.index[..., 0], self.index[..., 1]]  # (heads, L_q, L_k)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)  # (N, L, h d) -> (N, h, L, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend from every token of ``x`` to every (padded) token."""
        n, length, dim = x.shape
        (h, w), p = self.size, self.padding
        if length != h * w:
            raise ValueError(f"RelativeSelfAttention: expected {h}x{w}={h * w} tokens, got {length}")
        grid = x.transpose(1, 2).reshape(n, dim, h, w)  # (N, D, H, W)
        keys = F.pad(grid, (p, p, p, p)).flatten(2).transpose(1, 2)  # (N, L_k, D): padding tokens are zero
        bias = self.position_scores()  # (heads, L_q, L_k)
        v = self._split(self.value(keys))  # (N, heads, L_k, d)
        if self.query is None or self.key is None:
            assert bias is not None  # __init__ demands content or relative scores
            weights = bias.softmax(dim=-1)  # (heads, L_q, L_k): the same for every image
            mixed = weights @ v  # (N, heads, L_q, d)
        else:
            mixed = attention(self._split(self.query(x)), self._split(self.key(keys)), v, bias)
        return self.out(mixed.transpose(1, 2).flatten(2))  # (N, L_q, heads d) -> (N, L_q, out_dim)


def attention_from_conv(
    weight: torch.Tensor, bias: torch.Tensor | None, size: tuple[int, int], alpha: float = math.inf
) -> RelativeSelfAttention:
    """A self-attention layer with ``k²`` heads that computes ``conv2d(x, weight, bias, padding=(k-1)//2)``.

    Cordonnier, Loukas & Jaggi (2020), Theorem 1. Head ``h = a k + b`` looks at the offset
    ``Δ_h = (a - p, b - p)`` (quadratic scores, :func:`quadratic_scores`), its value projection is the
    identity, and its block of the output projection is ``weight[:, :, a, b]``; the output bias is the
    convolution's. With ``alpha=math.inf`` the layer equals the convolution, borders included, because
    the keys include ``p`` rings of zero padding tokens; with finite ``alpha`` it approaches it.

    Args:
        weight: ``(C_out, C_in, k, k)``, ``k`` odd.
        bias: ``(C_out,)`` or ``None``.
        size: the grid ``(H, W)`` of the input tokens.
        alpha: sharpness of the positional attention.

    Returns:
        a :class:`RelativeSelfAttention` with ``dim = head_dim = C_in``, ``out_dim = C_out``, no
        content scores; it maps tokens ``(N, H W, C_in)`` to ``(N, H W, C_out)``.

    >>> w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    >>> x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    >>> layer = attention_from_conv(w, None, (5, 5)).double()
    >>> y = layer(x.flatten(2).transpose(1, 2))  # tokens (2, 25, 3) -> (2, 25, 4)
    >>> torch.allclose(y.transpose(1, 2).view(2, 4, 5, 5), functional.conv2d(x, w, padding=1))
    True
    """
    c_out, c_in, k, k2 = weight.shape
    if k != k2 or k % 2 == 0:
        raise ValueError(f"attention_from_conv: the kernel must be square with an odd side, got {k}x{k2}")
    p = k // 2
    layer = RelativeSelfAttention(c_in, k * k, c_in, c_out, size, padding=p, content=False).to(weight.dtype)
    centres = torch.cartesian_prod(torch.arange(k), torch.arange(k)) - p  # (k², 2): Δ_h = (a - p, b - p)
    with torch.no_grad():
        layer.value.weight.copy_(torch.eye(c_in).repeat(k * k, 1))  # (k² C_in, C_in): each head reads the token
        layer.out.weight.copy_(weight.permute(0, 2, 3, 1).reshape(c_out, k * k * c_in))  # block h = K[:, :, a, b]
        layer.out.bias.copy_(torch.zeros(c_out) if bias is None else bias)
        assert layer.table is not None
        layer.table.copy_(quadratic_scores(layer.table_offsets(), centres, alpha))  # scores by offset alone
    return layer
