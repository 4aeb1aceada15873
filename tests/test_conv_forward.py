"""Forward convolution against ``torch.nn`` on random valid argument combinations, for every method.

The cases come from :func:`tests.strategies.conv_cases`, which builds only valid combinations (sizes are
derived so that the kernel fits), so no example is filtered out or returns early.
"""

from __future__ import annotations

import threading

import pytest
import torch
from hypothesis import given

from convlib import functional as cf
from convlib.algorithms.registry import METHODS, choose_method
from tests.helpers import CONV, PATHS, TOL, ours, reference
from tests.strategies import Case, conv_cases

# torch warns that its own "same" with even kernels copies the input; it is the reference here, not under test
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("method", [m for m in METHODS if m != "winograd"])  # winograd: 3x3 only, tested apart
@given(case=conv_cases())
def test_forward_matches_torch(path: str, method: str, case: Case) -> None:
    with PATHS[path]():
        got = ours(case, method)
    want = reference(case)
    assert got.shape == want.shape
    assert got.dtype == case.x.dtype
    torch.testing.assert_close(got, want, **TOL[case.x.dtype])


@pytest.mark.parametrize("path", sorted(PATHS))
@given(case=conv_cases(winograd=True))
def test_winograd_matches_torch(path: str, case: Case) -> None:
    with PATHS[path]():
        got = ours(case, "winograd")
    torch.testing.assert_close(got, reference(case), **TOL[case.x.dtype])


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


def test_loops_reference_matches_torch_on_a_small_layer() -> None:
    # (N, C, H, W, C_out, k) = (1, 3, 32, 32, 4, 3); no timing: tests/ never measures speed
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
