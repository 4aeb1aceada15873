"""convlib.upsampling against torch and brute force: overlap counts, the checkerboard measure, sub-pixel conv."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from convlib.shapes import conv_transpose_output_size
from convlib.upsampling import checkerboard_energy, conv_transpose2d_subpixel, overlap_count, subpixel_weight


def stamps_by_hand(i: int, k: int, s: int, p: int, o: int) -> torch.Tensor:
    """Brute force: every input pixel stamps a k x k block of ones at (row*s - p, col*s - p)."""
    n = conv_transpose_output_size(i, k, s, p, o)
    counts = torch.zeros(n, n)
    for r, c, a, b in itertools.product(range(i), range(i), range(k), range(k)):
        y, x = r * s + a - p, c * s + b - p
        if 0 <= y < n and 0 <= x < n:
            counts[y, x] += 1
    return counts


@pytest.mark.parametrize(("i", "k", "s", "p"), list(itertools.product([1, 3, 4], [1, 2, 3, 4, 5], [1, 2, 3], [0, 1])))
def test_overlap_count_matches_brute_force(i: int, k: int, s: int, p: int) -> None:
    for o in range(s):
        if conv_transpose_output_size(i, k, s, p, o) < 1:
            continue  # no output to count
        assert torch.equal(overlap_count(i, k, s, p, o), stamps_by_hand(i, k, s, p, o))


@pytest.mark.parametrize(("k", "s"), [(2, 2), (4, 2), (6, 3), (3, 3), (6, 2)])
def test_overlap_is_even_inside_when_stride_divides_kernel(k: int, s: int) -> None:
    counts = overlap_count(8, k, s)
    inner = counts[k:-k, k:-k]  # away from the border every pixel is covered (k/s)^2 times
    assert torch.all(inner == (k // s) ** 2)


def test_overlap_is_uneven_when_stride_does_not_divide_kernel() -> None:
    counts = overlap_count(8, 3, 2)
    assert set(counts[4:-4, 4:-4].unique().tolist()) == {1.0, 2.0, 4.0}


def test_overlap_count_errors() -> None:
    with pytest.raises(ValueError, match="output_padding"):
        overlap_count(3, 3, 2, output_padding=2)
    with pytest.raises(ValueError, match="no output"):
        overlap_count(1, 1, 1, padding=1)
    with pytest.raises(TypeError, match="size"):
        overlap_count((1, 2, 3), 3, 2)  # type: ignore[arg-type]


def tile_energy_by_hand(image: torch.Tensor, s: int) -> float:
    """Parseval's side: energy of the mean s x s tile (less the mean), over the energy of image - mean."""
    x = image.double()
    h, w = x.shape[-2:]
    tiles = x.reshape(*x.shape[:-2], h // s, s, w // s, s)  # (..., H/s, s, W/s, s)
    tile = tiles.mean(dim=(-4, -2), keepdim=True)  # (..., 1, s, 1, s)
    mean = x.mean(dim=(-2, -1), keepdim=True)[..., None, None]  # (..., 1, 1, 1, 1)
    pattern = (tile - mean).expand_as(tiles)
    centred = x - x.mean(dim=(-2, -1), keepdim=True)
    return float(pattern.square().sum() / centred.square().sum())


@pytest.mark.parametrize(("shape", "s"), [((8, 8), 2), ((3, 12, 6), 3), ((2, 1, 16, 8), 4), ((6, 6), 1)])
def test_checkerboard_energy_is_the_mean_tiles_energy(shape: tuple[int, ...], s: int) -> None:
    torch.manual_seed(0)
    image = torch.rand(shape)
    assert checkerboard_energy(image, s) == pytest.approx(tile_energy_by_hand(image, s), rel=1e-9)


def test_checkerboard_energy_extremes() -> None:
    torch.manual_seed(0)
    low = torch.rand(1, 1, 8, 8)
    assert checkerboard_energy(F.interpolate(low, scale_factor=2, mode="nearest"), 2) == pytest.approx(0, abs=1e-12)
    assert checkerboard_energy(torch.tensor([[1.0, 0.0], [0.0, 1.0]]).repeat(3, 3), 2) == pytest.approx(1)
    assert checkerboard_energy(torch.ones(4, 4), 2) == 0.0
    with pytest.raises(ValueError, match="divide"):
        checkerboard_energy(torch.rand(5, 6), 2)
    with pytest.raises(ValueError, match="stride"):
        checkerboard_energy(torch.rand(4, 4), 0)


CASES = [
    (r, kh, kw, p, o)
    for r, kh, kw, p in itertools.product([1, 2, 3], [1, 2, 3, 4, 5, 6], [1, 4], [0, 1, 3])
    for o in range(r)
]


@pytest.mark.parametrize(("r", "kh", "kw", "p", "o"), CASES)
def test_subpixel_equals_conv_transpose(r: int, kh: int, kw: int, p: int, o: int) -> None:
    torch.manual_seed(r * 1000 + kh * 100 + kw * 10 + p)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)  # (N, C_in, H, W)
    w = torch.randn(3, 2, kh, kw, dtype=torch.float64)  # (C_in, C_out, kH, kW)
    b = torch.randn(2, dtype=torch.float64)
    sizes = [conv_transpose_output_size(i, k, r, p, o) for i, k in ((4, kh), (5, kw))]
    if min(sizes) < 1:
        pytest.skip("the padding crops the whole output: torch refuses")
    expected = F.conv_transpose2d(x, w, b, stride=r, padding=p, output_padding=o)
    got = conv_transpose2d_subpixel(x, w, b, stride=r, padding=p, output_padding=o)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected)


def test_subpixel_weight_has_one_phase_per_channel() -> None:
    w = torch.randn(3, 2, 4, 4)  # (C_in, C_out, kH, kW)
    sub, first = subpixel_weight(w, stride=2, padding=1)
    assert sub.shape == (2 * 4, 3, 3, 3) and first == (1, 1)
    # every tap of the kernel lands in exactly one phase: the rearrangement only moves weights
    assert torch.allclose(sub.abs().sum(), w.abs().sum())


def test_subpixel_errors() -> None:
    with pytest.raises(ValueError, match="weight"):
        subpixel_weight(torch.randn(3, 3, 3), 2)
    with pytest.raises(ValueError, match="stride"):
        subpixel_weight(torch.randn(1, 1, 3, 3), 0)
    with pytest.raises(ValueError, match="no output"):
        conv_transpose2d_subpixel(torch.randn(1, 1, 1, 1), torch.randn(1, 1, 1, 1), padding=1)
    with pytest.raises(ValueError, match="input"):
        conv_transpose2d_subpixel(torch.randn(1, 4, 4), torch.randn(1, 1, 3, 3), stride=2)
