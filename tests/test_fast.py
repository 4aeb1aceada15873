"""The speed tuning (:mod:`convlib.algorithms._fast`) against the plain algorithms, branch by branch.

The random grids of the oracle tests draw at most 2 channels per group and small batches, which
never reach some of the tuned branches. Each case below is built to take one branch, checks that it
did, and compares the result with the plain version in float64, at 1, 2 and 4 threads (the thread
count picks the chunks). The grids themselves run at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from hypothesis import given

from convlib import _validate as check
from convlib.algorithms import _fast, im2col
from convlib.algorithms.adjoint import conv_transpose, conv_weight_grad
from convlib.algorithms.autograd import add_bias
from convlib.algorithms.fft import fast_size
from convlib.algorithms.registry import FAST, PLAIN
from convlib.geometry import Geometry
from convlib.shapes import conv_transpose_size
from tests.helpers import TOL, reference, zero_padded
from tests.strategies import Case, TCase, conv_cases, transpose_cases

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
THREADS = [1, 2, 4]


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64)


class Spy:
    """Record the calls of one function of ``_fast`` (which its callers look up by name at call time)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.calls: list[tuple] = []
        real = getattr(_fast, name)

        def spy(*args: object) -> object:
            self.calls.append(args)
            return real(*args)

        monkeypatch.setattr(_fast, name, spy)


def _correlations(x: torch.Tensor, w: torch.Tensor, geometry: Geometry, name: str) -> tuple[torch.Tensor, ...]:
    return FAST[name].correlate(x, w, geometry), PLAIN[name].correlate(x, w, geometry)


def _transposes(x: torch.Tensor, w: torch.Tensor, geometry: Geometry) -> tuple[torch.Tensor, ...]:
    """Both conv^T of ``x`` by the kernel ``w`` of the direct convolution, output_padding 1 on every axis."""
    size = [conv_transpose_size(i, k, s, p, 1, d) for i, k, s, (p, _), d in _axes(x, w, geometry)]
    return FAST["im2col"].transpose(x, w, size, geometry), PLAIN["im2col"].transpose(x, w, size, geometry)


def _axes(x: torch.Tensor, w: torch.Tensor, g: Geometry) -> Iterator[tuple]:
    return zip(x.shape[2:], w.shape[2:], g.stride, g.padding, g.dilation)


# ---------------------------------------------------------------- the cases: one tuned branch each


def one_image(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """One image, 16 output channels: a plain batched product, not matmul's broadcasting one."""
    layer = Spy(mp, "_layer")
    result = _correlations(_randn(1, 4, 10, 9), _randn(16, 4, 3, 3), Geometry.of(2, padding=1), "im2col")
    assert [args[0].shape[0] for args in layer.calls] == [1]  # images per product
    return result


def batch_grouped(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """Three images, three groups, stride and dilation: one matmul over the batch."""
    layer = Spy(mp, "_layer")
    geometry = Geometry.of(2, stride=2, padding=(1, 2), dilation=(1, 2), groups=3)
    result = _correlations(_randn(3, 6, 9, 8), _randn(9, 2, 3, 3), geometry, "im2col")
    assert [args[0].shape[0] for args in layer.calls] == [3]
    return result


def few_pixels(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """A 5x5 kernel with 3x3 outputs (the weight gradient's shape): pixels on the rows."""
    few = Spy(mp, "_few_pixels")
    result = _correlations(_randn(2, 4, 7, 7), _randn(3, 4, 5, 5), Geometry.of(2), "im2col")
    assert len(few.calls) == 1
    return result


def batch_in_chunks(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """Ten images, buffers lowered to hold the patches of three: the batch goes in several chunks."""
    x, w = _randn(10, 2, 8, 8), _randn(4, 2, 3, 3)
    image_bytes = 8 * 2 * 9 * 8 * 8  # float64 * C_in*kH*kW * oH*oW
    mp.setattr(_fast, "SLOT_BYTES", 3 * image_bytes)
    layer = Spy(mp, "_layer")
    result = _correlations(x, w, Geometry.of(2, padding=1), "im2col")
    # three fit: 3, 3, 3, 1; with 2 threads a chunk holds a multiple of 2; 4 threads do not fit in 3
    want = {1: [3, 3, 3, 1], 2: [2, 2, 2, 2, 2], 4: [3, 3, 3, 1]}[threads]
    assert [args[0].shape[0] for args in layer.calls] == want
    return result


def permuted_kernel(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """A non-contiguous kernel (grad_y arrives permuted) is copied into a kept buffer first."""
    contiguous = Spy(mp, "_contiguous")
    w = _randn(3, 4, 3, 3).transpose(2, 3)
    result = _correlations(_randn(2, 4, 8, 8), w, Geometry.of(2), "im2col")
    assert contiguous.calls[0][1] == "kernel"
    return result


def cropping_padding(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """Negative padding, as the adjoint passes it: crop, then pad what is left."""
    geometry = Geometry((1, 1), ((-1, 2), (2, -1)), (1, 1))
    return _correlations(_randn(2, 3, 8, 8), _randn(4, 3, 3, 3), geometry, "im2col")


def transpose_by_col2im(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """conv^T with fewer input than output channels in the direct convolution: by col2im."""
    col2im = Spy(mp, "col2im")
    result = _transposes(_randn(2, 8, 5, 5), _randn(8, 2, 3, 3), Geometry.of(2, stride=2, padding=1))
    assert len(col2im.calls) == 1
    return result


def transpose_by_col2im_grouped(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """The same with two groups and dilation 2."""
    col2im = Spy(mp, "col2im")
    result = _transposes(_randn(2, 8, 6, 5), _randn(8, 1, 3, 2), Geometry.of(2, stride=2, dilation=2, groups=2))
    assert len(col2im.calls) == 1
    return result


def transpose_generic(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """conv^T with more input than output channels: spread, pad and the tuned correlation."""
    col2im = Spy(mp, "col2im")
    result = _transposes(_randn(2, 2, 5, 5), _randn(2, 8, 3, 3), Geometry.of(2, stride=2, padding=1))
    assert not col2im.calls
    return result


def fft_by_products(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """16 input channels per group on a 90x90 spectrum: one matrix product per frequency."""
    x, w = _randn(2, 32, 90, 90), _randn(4, 16, 3, 3)
    length = fast_size(90 + 2)  # padded by 1 on each side
    assert _fast.MIX_CHANNELS <= 16 and length * (length // 2 + 1) >= _fast.MIX_FREQUENCIES
    return _correlations(x, w, Geometry.of(2, padding=1, groups=2), "fft")


def fft_by_loop(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """Three input channels: mixed one at a time into a kept buffer; stride and padding."""
    return _correlations(_randn(2, 3, 12, 12), _randn(5, 3, 4, 4), Geometry.of(2, stride=2, padding=1), "fft")


def fft_depthwise(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """One channel per group, dilated: nothing to mix."""
    return _correlations(_randn(2, 4, 12, 12), _randn(4, 1, 3, 3), Geometry.of(2, dilation=2, groups=4), "fft")


def fft_1d(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """The kernel's transform with one axis."""
    return _correlations(_randn(2, 3, 40), _randn(2, 3, 7), Geometry.of(1, padding=3), "fft")


def fft_3d(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """The kernel's transform axis by axis, three of them."""
    return _correlations(_randn(1, 2, 6, 7, 8), _randn(3, 2, 3, 2, 3), Geometry.of(3, padding=1), "fft")


def winograd_weight_gradient(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """Winograd's weight gradient correlates with a 7x7 "kernel": the tuned im2col runs instead."""
    x, grad_y = _randn(2, 3, 9, 9), _randn(2, 4, 7, 7)
    geometry = Geometry.of(2)
    fast = conv_weight_grad(x, grad_y, (3, 3), geometry, FAST["winograd"].correlate)
    return fast, conv_weight_grad(x, grad_y, (3, 3), geometry, PLAIN["winograd"].correlate)


def bias_in_place(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """A contiguous result takes the bias in place."""
    y, bias = _randn(2, 3, 4, 5), _randn(3)
    fast = _fast.add_bias(y.clone(), bias)
    assert fast.is_contiguous()
    return fast, add_bias(y, bias)


def bias_with_the_copy(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """A cropped view (the FFT's result) takes the bias in the copy that makes it contiguous."""
    y, bias = _randn(2, 3, 9, 9)[..., 2:, 1:7], _randn(3)
    fast, plain = _fast.add_bias(y, bias), add_bias(y, bias)
    assert fast.is_contiguous() and plain.is_contiguous()
    return fast, plain


def no_bias(mp: pytest.MonkeyPatch, threads: int) -> tuple[torch.Tensor, ...]:
    """No bias: only the layout copy."""
    y = _randn(2, 3, 9, 9)[..., 2:, 1:7]
    fast, plain = _fast.add_bias(y, None), add_bias(y, None)
    assert fast.is_contiguous() and plain.is_contiguous()
    return fast, plain


CASES: dict[str, Callable[[pytest.MonkeyPatch, int], tuple[torch.Tensor, ...]]] = {
    f.__name__: f
    for f in (
        one_image,
        batch_grouped,
        few_pixels,
        batch_in_chunks,
        permuted_kernel,
        cropping_padding,
        transpose_by_col2im,
        transpose_by_col2im_grouped,
        transpose_generic,
        fft_by_products,
        fft_by_loop,
        fft_depthwise,
        fft_1d,
        fft_3d,
        winograd_weight_gradient,
        bias_in_place,
        bias_with_the_copy,
        no_bias,
    )
}


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_branch_equals_plain(case: str, threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(threads)  # conftest restores the count
    torch.manual_seed(0)
    _fast.release_scratch()  # fresh buffers, then kept ones: the second call reuses them
    for _ in range(2):
        fast, plain = CASES[case](monkeypatch, threads)
        torch.testing.assert_close(fast, plain)
        monkeypatch.undo()


def test_chunks_cover_the_batch_evenly_but_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fast, "SLOT_BYTES", 300)
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    assert [(s.start, s.stop) for s in _fast._chunks(10, 100, cpu)] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert [(s.start, s.stop) for s in _fast._chunks(2, 1000, cpu)] == [(0, 1), (1, 2)]  # too large: one each
    assert [(s.start, s.stop) for s in _fast._chunks(3, 1, cpu)] == [(0, 3)]  # all fit


# ---------------------------------------------------------------- the random grids


@pytest.mark.parametrize("name", ["im2col", "fft"])
@given(case=conv_cases())
def test_fast_equals_plain(name: str, case: Case) -> None:
    case, geometry = zero_padded(case)
    plain, fast = PLAIN[name].correlate(case.x, case.w, geometry), FAST[name].correlate(case.x, case.w, geometry)
    torch.testing.assert_close(fast, plain, **TOL[case.x.dtype])


@pytest.mark.parametrize("name", ["im2col", "fft"])
@given(case=conv_cases(dtypes=(torch.float64,)))
def test_fast_weight_gradient_equals_plain(name: str, case: Case) -> None:
    # the weight gradient is a correlation whose "kernel" is grad_y: the fast route swaps rows and columns
    case, geometry = zero_padded(case)
    grad_y = torch.randn_like(reference(case))
    kernel = case.w.shape[2:]
    plain = conv_weight_grad(case.x, grad_y, kernel, geometry, PLAIN[name].correlate)
    fast = conv_weight_grad(case.x, grad_y, kernel, geometry, FAST[name].correlate)
    torch.testing.assert_close(fast, plain)


@given(case=transpose_cases(dtypes=(torch.float64,)))
def test_fast_transpose_equals_plain(case: TCase) -> None:
    n = case.w.ndim - 2
    x = case.x if case.x.ndim == n + 2 else case.x[None]
    args = check.conv_transpose_args("test", n, x, case.w, None, *case.kwargs.values())
    g = args.geometry
    terms = zip(x.shape[2:], case.w.shape[2:], g.stride, g.padding, args.output_padding, g.dilation)
    size = [conv_transpose_size(i, k, s, p, o, d) for i, k, s, (p, _), o, d in terms]
    plain = conv_transpose(x, case.w, size, g, im2col.correlate)
    torch.testing.assert_close(FAST["im2col"].transpose(x, case.w, size, g), plain)


def test_scratch_is_capped_and_never_returned() -> None:
    _fast.release_scratch()
    small = _fast.scratch((4,), torch.zeros(1), "test")
    assert _fast.scratch((4,), torch.zeros(1), "test").data_ptr() == small.data_ptr()  # kept and reused
    big = _fast.scratch((_fast.SCRATCH_BYTES // 4 + 1,), torch.zeros(1), "test")
    assert big.data_ptr() != _fast.scratch((4,), torch.zeros(1), "test").data_ptr()  # too large: not kept
    x, w = torch.randn(1, 3, 12, 12), torch.randn(4, 3, 3, 3)
    first = FAST["im2col"].correlate(x, w, Geometry.of(2, padding=1))
    kept = first.clone()
    FAST["im2col"].correlate(torch.randn_like(x), w, Geometry.of(2, padding=1))
    assert torch.equal(first, kept)  # the second call left the first result alone
    _fast.release_scratch()
