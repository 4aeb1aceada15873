"""Toom-Cook's F(m, r) against Lavin & Gray's F(2, 3) and against direct correlation (numpy/torch)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from convlib.algorithms import winograd
from convlib.algorithms.toom_cook import POINTS, tile_2d, transforms


def _terms(at: torch.Tensor, g: torch.Tensor, bt: torch.Tensor) -> torch.Tensor:
    """The bilinear algorithm as its n rank-one terms AT[:, i] x G[i, :] x BT[i, :], which fix it whole."""
    return torch.einsum("mi,ir,in->imrn", at, g, bt)  # (n, m, r, n)


def test_f23_is_lavin_and_grays_algorithm() -> None:
    ours = transforms(2, 3)
    lavin = [torch.tensor(m, dtype=torch.float64) for m in (winograd.AT, winograd.G, winograd.BT)]
    assert [tuple(t.shape) for t in ours] == [(2, 4), (4, 3), (4, 4)]
    # each of the 4 products may carry a different scale in G and BT (and sign in AT); the terms may not
    torch.testing.assert_close(_terms(*ours), _terms(*lavin), rtol=0, atol=0)


@pytest.mark.parametrize(("m", "r"), [(1, 1), (1, 3), (2, 3), (3, 2), (4, 3), (6, 3), (2, 5), (3, 4)])
def test_1d_tile_is_the_valid_correlation(m: int, r: int) -> None:
    t = transforms(m, r)
    gen = torch.Generator().manual_seed(m * 10 + r)
    d, g = (
        torch.randn(m + r - 1, generator=gen, dtype=torch.float64),
        torch.randn(r, generator=gen, dtype=torch.float64),
    )
    want = F.conv1d(d.view(1, 1, -1), g.view(1, 1, -1)).flatten()  # torch's conv1d correlates: no flip
    torch.testing.assert_close(t.AT @ ((t.G @ g) * (t.BT @ d)), want, rtol=1e-12, atol=1e-12)
    assert t.G.shape[0] == m + r - 1  # n multiplications, against m * r directly


@pytest.mark.parametrize(("m", "r"), [(2, 3), (4, 3), (6, 3)])
def test_2d_tile_is_the_valid_correlation(m: int, r: int) -> None:
    t = transforms(m, r)
    gen = torch.Generator().manual_seed(m)
    d = torch.randn(m + r - 1, m + r - 1, generator=gen, dtype=torch.float64)
    g = torch.randn(r, r, generator=gen, dtype=torch.float64)
    want = F.conv2d(d[None, None], g[None, None])[0, 0]
    torch.testing.assert_close(tile_2d(d, g, t), want, rtol=1e-11, atol=1e-11)
    if (m, r) == (2, 3):
        torch.testing.assert_close(tile_2d(d, g, t), winograd.tile(d, g), rtol=1e-14, atol=1e-14)


def test_other_points_give_the_same_results() -> None:
    d, g = torch.arange(1.0, 7.0, dtype=torch.float64), torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    default, other = transforms(4, 3), transforms(4, 3, points=[0, 1, -1, Fraction(1, 2), 3])
    torch.testing.assert_close(
        default.AT @ ((default.G @ g) * (default.BT @ d)), other.AT @ ((other.G @ g) * (other.BT @ d))
    )
    assert len(POINTS) >= 8  # enough for F(6, 3) and larger


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"m": 0, "r": 3}, "m must be"),
        ({"m": 2, "r": True}, "r must be"),
        ({"m": 2, "r": 3, "points": [0, 1]}, "points must be 3 distinct"),
        ({"m": 2, "r": 3, "points": [0, 1, 1]}, "points must be 3 distinct"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        transforms(**kwargs)
