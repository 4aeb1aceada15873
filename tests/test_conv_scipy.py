"""A second, independent oracle: scipy's correlation of one channel (no torch involved)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from convlib import functional as cf
from convlib.algorithms import registry

METHODS = [m for m in registry.METHODS if m != "winograd"]  # winograd: 3x3 only
# torch's padding modes under scipy.ndimage's names: "reflect" excludes the edge pixel, as "mirror" does
NDIMAGE_MODE = {"zeros": "constant", "reflect": "mirror", "replicate": "nearest", "circular": "wrap"}


def _image_and_kernel(odd: bool) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    values = st.floats(-4, 4, allow_nan=False, width=64)
    sizes = st.integers(1, 3).map(lambda h: 2 * h + 1) if odd else st.integers(1, 5)
    kernels = st.tuples(sizes, sizes).flatmap(lambda s: arrays(np.float64, s, elements=values))
    return kernels.flatmap(
        lambda k: st.tuples(
            st.tuples(st.integers(k.shape[0], 9), st.integers(k.shape[1], 9)).flatmap(
                lambda s: arrays(np.float64, s, elements=values)
            ),
            st.just(k),
        )
    )


def _conv(image: np.ndarray, kernel: np.ndarray, method: str, **kwargs: object) -> np.ndarray:
    x = torch.from_numpy(image)[None, None]  # (1, 1, H, W)
    w = torch.from_numpy(kernel)[None, None]  # (1, 1, kH, kW)
    return cf.conv2d(x, w, method=method, **kwargs)[0, 0].numpy()  # type: ignore[arg-type]


@pytest.mark.parametrize("method", METHODS)
@given(data=_image_and_kernel(odd=False))
def test_valid_and_full_match_scipy_correlate2d(method: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    image, kernel = data
    valid = scipy.signal.correlate2d(image, kernel, mode="valid")
    np.testing.assert_allclose(_conv(image, kernel, method), valid, rtol=1e-9, atol=1e-9)
    # "full": every overlap, i.e. k - 1 zeros on each side
    full = scipy.signal.correlate2d(image, kernel, mode="full")
    padding = (kernel.shape[0] - 1, kernel.shape[1] - 1)
    np.testing.assert_allclose(_conv(image, kernel, method, padding=padding), full, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", sorted(NDIMAGE_MODE))
@given(data=_image_and_kernel(odd=True))
def test_same_with_padding_modes_matches_ndimage(method: str, mode: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    image, kernel = data
    # ndimage centres an odd kernel on each pixel, as padding="same" does; the image is at least as
    # large as the kernel on each axis, so each side's padding k//2 is below the size, as reflect needs
    want = scipy.ndimage.correlate(image, kernel, mode=NDIMAGE_MODE[mode], cval=0.0)
    got = _conv(image, kernel, method, padding="same", padding_mode=mode)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
