"""convlib.groups: exact p4 equivariance, and agreement with the group correlation written from its definition."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convlib import functional
from convlib.groups import (
    GroupConv2d,
    LiftingConv2d,
    P4MaxPool2d,
    RotationPool,
    group_conv2d,
    group_kernels,
    lifting_conv2d,
    lifting_kernels,
    rotate,
    rotate_p4,
    rotation_pool,
)

# The rotation that torch.rot90(dims=(-2, -1)) applies to an image, as a matrix on centred
# (row, column) coordinates: the rotated image g satisfies g(x) = f(R^-1 x).
R = np.array([[0, -1], [1, 0]])
R_INV = R.T


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _kernel_at(kernel: np.ndarray, offset: np.ndarray) -> float:
    """A k x k kernel read at a centred offset, zero outside its support."""
    c = (kernel.shape[-1] - 1) // 2
    i, j = offset + c
    return float(kernel[i, j]) if 0 <= i < kernel.shape[-2] and 0 <= j < kernel.shape[-1] else 0.0


def lifting_by_definition(f: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """[f ⋆ ψ](t, r) = Σ_y Σ_c f_c(y) ψ_c(R^-r (y - t)): the correlation over the group p4, element by element.

    f: (C_in, H, W); psi: (C_out, C_in, k, k) with odd k; zero outside the image ('same' padding).
    """
    c_in, h, w = f.shape
    out = np.zeros((psi.shape[0], 4, h, w))
    for o, r, ti, tj in itertools.product(range(psi.shape[0]), range(4), range(h), range(w)):
        g_inv = np.linalg.matrix_power(R_INV, r)
        out[o, r, ti, tj] = sum(
            f[c, yi, yj] * _kernel_at(psi[o, c], g_inv @ np.array([yi - ti, yj - tj]))
            for c, yi, yj in itertools.product(range(c_in), range(h), range(w))
        )
    return out


def group_by_definition(f: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """[f ⋆ ψ](t, r) = Σ_{y, s, c} f_c(y, s) ψ_c(R^-r (y - t), s - r): g⁻¹h for g = (t, r), h = (y, s).

    f: (C_in, 4, H, W); psi: (C_out, C_in, 4, k, k).
    """
    c_in, _, h, w = f.shape
    out = np.zeros((psi.shape[0], 4, h, w))
    for o, r, ti, tj in itertools.product(range(psi.shape[0]), range(4), range(h), range(w)):
        g_inv = np.linalg.matrix_power(R_INV, r)
        out[o, r, ti, tj] = sum(
            f[c, s, yi, yj] * _kernel_at(psi[o, c, (s - r) % 4], g_inv @ np.array([yi - ti, yj - tj]))
            for c, s, yi, yj in itertools.product(range(c_in), range(4), range(h), range(w))
        )
    return out


def test_rotate_is_the_matrix_r() -> None:
    """rotate(·, 1) moves the pixel at centred (u, v) to R (u, v): the convention the definitions use."""
    f = _randn(5, 5, seed=0)
    g = rotate(f, 1)
    for u, v in itertools.product(range(-2, 3), repeat=2):
        ru, rv = R @ np.array([u, v])
        assert g[ru + 2, rv + 2] == f[u + 2, v + 2]
    assert torch.equal(rotate(f, 1), torch.from_numpy(np.rot90(f.numpy()).copy()))


def test_lifting_matches_the_definition() -> None:
    f, psi = _randn(2, 5, 5, seed=1), _randn(3, 2, 3, 3, seed=2)
    ours = lifting_conv2d(f[None], psi, padding=1)[0]
    np.testing.assert_allclose(ours.numpy(), lifting_by_definition(f.numpy(), psi.numpy()), atol=1e-12)


def test_group_conv_matches_the_definition() -> None:
    f, psi = _randn(2, 4, 4, 4, seed=3), _randn(2, 2, 4, 3, 3, seed=4)
    ours = group_conv2d(f[None], psi, padding=1)[0]
    np.testing.assert_allclose(ours.numpy(), group_by_definition(f.numpy(), psi.numpy()), atol=1e-12)


def test_rotate_p4_is_a_group_action() -> None:
    x = _randn(2, 3, 4, 5, 5, seed=5)
    assert torch.equal(rotate_p4(x, 4), x)
    assert torch.equal(rotate_p4(rotate_p4(x, 1), 2), rotate_p4(x, 3))
    assert torch.equal(rotate_p4(rotate_p4(x, 1), -1), x)


@given(
    extra=st.integers(0, 5),
    k=st.integers(1, 5),
    p=st.integers(0, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    r=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_lifting_is_exactly_equivariant(extra: int, k: int, p: int, c_in: int, c_out: int, r: int, seed: int) -> None:
    """Rotating the image rotates every output plane and cycles the orientation axis by r.

    Any square kernel, odd or even, with the same padding on every side.
    """
    size = k + extra  # the kernel fits the image, with or without padding
    x, w, b = _randn(2, c_in, size, size, seed=seed), _randn(c_out, c_in, k, k, seed=seed + 1), _randn(c_out, seed=seed)
    y = lifting_conv2d(x, w, b, padding=p)
    torch.testing.assert_close(lifting_conv2d(rotate(x, r), w, b, padding=p), rotate_p4(y, r), rtol=0, atol=1e-12)


@given(
    extra=st.integers(0, 4),
    k=st.integers(1, 5),
    p=st.integers(0, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    r=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_group_conv_is_exactly_equivariant(
    extra: int, k: int, p: int, c_in: int, c_out: int, r: int, seed: int
) -> None:
    size = k + extra
    x = _randn(2, c_in, 4, size, size, seed=seed)
    w, b = _randn(c_out, c_in, 4, k, k, seed=seed + 1), _randn(c_out, seed=seed)
    y = group_conv2d(x, w, b, padding=p)
    torch.testing.assert_close(group_conv2d(rotate_p4(x, r), w, b, padding=p), rotate_p4(y, r), rtol=0, atol=1e-12)


def test_kernels_are_rotated_copies() -> None:
    w = _randn(2, 3, 5, 5, seed=6)
    stacked = lifting_kernels(w).view(2, 4, 3, 5, 5)
    for r in range(4):
        assert torch.equal(stacked[:, r], torch.rot90(w, r, dims=(2, 3)))
    g = _randn(2, 3, 4, 3, 3, seed=7)
    big = group_kernels(g).view(2, 4, 3, 4, 3, 3)  # (C_out, r, C_in, s, k, k)
    for r, s in itertools.product(range(4), repeat=2):
        assert torch.equal(big[:, r, :, s], torch.rot90(g[:, :, (s - r) % 4], r, dims=(2, 3)))


def test_torch_conv_gives_the_same_layers() -> None:
    x, w = _randn(2, 2, 7, 7, seed=8), _randn(3, 2, 3, 3, seed=9)
    torch.testing.assert_close(lifting_conv2d(x, w, padding=1, conv=F.conv2d), lifting_conv2d(x, w, padding=1))
    y, g = _randn(2, 2, 4, 6, 6, seed=10), _randn(3, 2, 4, 3, 3, seed=11)
    torch.testing.assert_close(group_conv2d(y, g, padding=1, conv=F.conv2d), group_conv2d(y, g, padding=1))


def test_gradients() -> None:
    x = _randn(1, 1, 4, 3, 3, seed=12).requires_grad_()
    w = _randn(2, 1, 4, 3, 3, seed=13).requires_grad_()
    b = _randn(2, seed=14).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w, b: group_conv2d(x, w, b, padding=1), (x, w, b), fast_mode=True)
    im = _randn(1, 1, 4, 4, seed=15).requires_grad_()
    lift = _randn(2, 1, 3, 3, seed=16).requires_grad_()
    assert torch.autograd.gradcheck(lambda im, w: lifting_conv2d(im, w, padding=1), (im, lift), fast_mode=True)


def test_pools() -> None:
    x = _randn(2, 3, 4, 6, 6, seed=16)
    for r in range(4):
        assert torch.equal(rotation_pool(rotate_p4(x, r)), rotate(rotation_pool(x), r))
        assert torch.equal(P4MaxPool2d(2)(rotate_p4(x, r)), rotate_p4(P4MaxPool2d(2)(x), r))
    assert torch.equal(rotation_pool(x, "mean"), x.mean(2))
    assert torch.equal(RotationPool()(x), x.amax(2))
    expected = functional.max_pool2d(x.flatten(1, 2), 2).view(2, 3, 4, 3, 3)
    assert torch.equal(P4MaxPool2d(2)(x), expected)


def test_layers() -> None:
    torch.manual_seed(0)
    lift, gconv = LiftingConv2d(1, 4, 5, padding=2), GroupConv2d(4, 8, 3, padding=1)
    assert sum(p.numel() for p in lift.parameters()) == 4 * 25 + 4
    assert sum(p.numel() for p in gconv.parameters()) == 8 * 4 * 4 * 9 + 8
    x = torch.randn(2, 1, 8, 8)
    y = gconv(lift(x))
    assert y.shape == (2, 8, 4, 8, 8)
    torch.testing.assert_close(gconv(lift(rotate(x, 1))), rotate_p4(y, 1), rtol=0, atol=1e-5)
    assert repr(gconv) == "GroupConv2d(4, 8, kernel_size=3, padding=1)"


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"lifting_conv2d: input must be \(N, C_in, H, W\)"):
        lifting_conv2d(torch.zeros(1, 5, 5), torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="kernels must be square"):
        lifting_conv2d(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 2))
    with pytest.raises(ValueError, match="disagree"):
        group_conv2d(torch.zeros(1, 2, 4, 5, 5), torch.zeros(1, 3, 4, 3, 3))
    with pytest.raises(ValueError, match=r"group_kernels: weight must be \(C_out, C_in, 4, k, k\)"):
        group_kernels(torch.zeros(1, 1, 3, 3, 3))
    with pytest.raises(TypeError, match="input must be a tensor"):
        group_conv2d(np.zeros((1, 1, 4, 3, 3)), torch.zeros(1, 1, 4, 3, 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode must be 'max' or 'mean'"):
        rotation_pool(torch.zeros(1, 1, 4, 2, 2), "min")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rotate_p4: x must be"):
        rotate_p4(torch.zeros(1, 3, 2, 2), 1)
