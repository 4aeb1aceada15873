"""Forward convolution against ``torch.nn`` on random valid argument combinations, for every method.

The strategies below build only valid combinations (sizes are derived so that the kernel fits), so
no example is filtered out or returns early. They are shared with the backward tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convlib import functional as cf
from convlib.algorithms import _fast
from convlib.algorithms.registry import METHODS, choose_method

CONV = {1: cf.conv1d, 2: cf.conv2d, 3: cf.conv3d}
MODULE = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
# torch warns that its own "same" with even kernels copies the input; it is the reference here, not under test
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

TOL = {torch.float32: {"rtol": 1e-4, "atol": 1e-4}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}


@dataclass
class Case:
    """One convolution call: tensors plus keyword arguments, valid by construction."""

    x: torch.Tensor
    w: torch.Tensor
    b: torch.Tensor | None
    kwargs: dict[str, Any]
    padding_mode: str

    @property
    def n(self) -> int:
        return self.w.ndim - 2


@st.composite
def conv_cases(
    draw: st.DrawFn,
    dims: tuple[int, ...] = (1, 2, 3),
    dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float64),
    winograd: bool = False,
) -> Case:
    """A valid ``convNd`` call. With ``winograd``, only 2-D 3x3 kernels with stride and dilation 1."""
    n = 2 if winograd else draw(st.sampled_from(dims))
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    small = 3 if n == 3 else 4  # keeps 3-D volumes tiny
    kernel = [3] * n if winograd else draw(st.lists(st.integers(1, small), min_size=n, max_size=n))
    dilation = [1] * n if winograd else draw(st.lists(st.integers(1, 2), min_size=n, max_size=n))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    kind = draw(st.sampled_from(["int", "tuple", "valid", "same"]))
    stride = [1] * n if winograd or kind == "same" else draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    if kind == "same":
        padding: Any = "same"
        pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
    elif kind == "valid":
        padding, pads = "valid", [(0, 0)] * n
    else:
        per_axis = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
        padding = per_axis[0] if kind == "int" else tuple(per_axis)
        pads = [(per_axis[0], per_axis[0])] * n if kind == "int" else [(p, p) for p in per_axis]
    size = []
    for k, d, (p0, p1) in zip(kernel, dilation, pads):
        fits = d * (k - 1) + 1 - p0 - p1  # the padded input must hold the dilated kernel
        mode_min = {"reflect": max(p0, p1) + 1, "circular": max(p0, p1)}.get(mode, 1)
        size.append(max(fits, mode_min, 1) + draw(st.integers(0, 3)))
    batch = draw(st.sampled_from([None, 1, 2]))
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)
    shape = ([] if batch is None else [batch]) + [c_in, *size]
    x = torch.randn(*shape, generator=gen, dtype=dtype)
    w = torch.randn(c_out, c_in // groups, *kernel, generator=gen, dtype=dtype)
    b = torch.randn(c_out, generator=gen, dtype=dtype) if draw(st.booleans()) else None
    kwargs = {"stride": tuple(stride), "padding": padding, "dilation": tuple(dilation), "groups": groups}
    return Case(x, w, b, kwargs, mode)


def ours(case: Case, method: str, x: torch.Tensor | None = None, w: torch.Tensor | None = None) -> torch.Tensor:
    """convlib's result for ``case``, optionally with substitute tensors (for gradients)."""
    x, w = case.x if x is None else x, case.w if w is None else w
    return CONV[case.n](x, w, case.b, **case.kwargs, padding_mode=case.padding_mode, method=method)


def reference(case: Case, x: torch.Tensor | None = None, w: torch.Tensor | None = None) -> torch.Tensor:
    """torch's result: ``nn.ConvNd`` handles padding_mode (and "same" with it) exactly as specified."""
    x, w = case.x if x is None else x, case.w if w is None else w
    c_out, c_in_g, *kernel = case.w.shape
    module = MODULE[case.n](
        c_in_g * case.kwargs["groups"], c_out, kernel, **case.kwargs, bias=False, padding_mode=case.padding_mode
    )
    params = {"weight": w} if case.b is None else {"weight": w, "bias": case.b}
    return torch.func.functional_call(module, params, (x,))


@pytest.mark.parametrize("method", [m for m in METHODS if m != "winograd"])  # winograd: 3x3 only, tested apart
@given(case=conv_cases())
def test_forward_matches_torch(method: str, case: Case) -> None:
    got, want = ours(case, method), reference(case)
    assert got.shape == want.shape
    assert got.dtype == case.x.dtype
    torch.testing.assert_close(got, want, **TOL[case.x.dtype])


@given(case=conv_cases(winograd=True))
def test_winograd_matches_torch(case: Case) -> None:
    torch.testing.assert_close(ours(case, "winograd"), reference(case), **TOL[case.x.dtype])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_unbatched_input_gives_unbatched_output(n: int) -> None:
    x = torch.randn(2, *[5] * n)
    w = torch.randn(4, 2, *[3] * n)
    got = CONV[n](x, w, padding=1)
    assert got.shape == (4, *[5] * n)
    torch.testing.assert_close(got, CONV[n](x.unsqueeze(0), w, padding=1)[0])


def test_same_padding_even_kernel_puts_extra_pixel_after() -> None:
    # a 2x2 kernel picking the bottom-right tap reads x[i+1, j+1]; "same" pads the extra row/col after
    x = torch.arange(9.0).view(1, 1, 3, 3)
    w = torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]]])
    got = cf.conv2d(x, w, padding="same")
    assert torch.equal(got, torch.tensor([[[[4.0, 5.0, 0.0], [7.0, 8.0, 0.0], [0.0, 0.0, 0.0]]]]))
    torch.testing.assert_close(got, torch.nn.functional.conv2d(x, w, padding="same"))


def test_loops_reference_runs_quickly_on_a_small_layer() -> None:
    # the teaching version must stay usable: (N, C, H, W, C_out, k) = (1, 3, 32, 32, 4, 3)
    x, w = torch.randn(1, 3, 32, 32), torch.randn(4, 3, 3, 3)
    torch.testing.assert_close(cf.conv2d(x, w, method="loops"), torch.nn.functional.conv2d(x, w), **TOL[x.dtype])


def test_auto_picks_fft_for_large_kernels_and_im2col_for_small() -> None:
    assert choose_method((1, 1, 286, 286), (1, 1, 31, 31), (1, 1)) == "fft"
    assert choose_method((4, 8, 142, 142), (8, 8, 15, 15), (1, 1)) == "fft"
    layers = [((1, 3, 130, 130), (16, 3, 3, 3)), ((32, 16, 34, 34), (32, 16, 3, 3)), ((8, 64, 58, 58), (64, 64, 3, 3))]
    for x_shape, w_shape in layers:
        assert choose_method(x_shape, w_shape, (1, 1)) == "im2col"


@pytest.mark.parametrize("method", ["im2col", "fft", "winograd"])
def test_reused_buffers_survive_inference_mode(method: str) -> None:
    # scratch buffers first created under inference_mode must still be writable by a training step;
    # a fresh thread starts with no buffers (they are per thread), so it creates them in inference mode
    x, w = torch.randn(1, 2, 9, 9), torch.randn(3, 2, 3, 3)
    errors: list[BaseException] = []

    def steps() -> None:
        try:
            with torch.inference_mode():
                cf.conv2d(x * 2, w, padding=1, method=method)
            x.requires_grad_()
            cf.conv2d(x, w, padding=1, method=method).sum().backward()
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=steps)
    thread.start()
    thread.join()
    assert not errors, errors
    assert x.grad is not None


@pytest.fixture
def two_threads() -> None:
    """Run with torch's thread count at 2, the count that :func:`convlib.algorithms._fast.copies` is tuned on."""
    torch.set_num_threads(2)  # conftest's autouse fixture restores the count


@pytest.mark.usefixtures("two_threads")
def test_small_batches_get_a_patch_copy_per_thread() -> None:
    cpu = torch.device("cpu")
    assert _fast.copies(1, 16, 2**20, cpu) == 2  # one image, two threads: one copy each
    assert _fast.copies(1, 3, 2**20, cpu) == 1  # 3 output channels do not split in two
    assert _fast.copies(2, 16, 2**20, cpu) == 1  # two images already give each thread a product
    assert _fast.copies(1, 16, _fast.DUPLICATE_BYTES, cpu) == 1  # too large to duplicate
    # the duplicated route gives torch's result, grouped or not
    for groups in (1, 2):
        x, w = torch.randn(1, 4, 10, 9), torch.randn(8, 4 // groups, 3, 3)
        got = cf.conv2d(x, w, padding=1, groups=groups, method="im2col")
        torch.testing.assert_close(got, torch.nn.functional.conv2d(x, w, padding=1, groups=groups), **TOL[x.dtype])
