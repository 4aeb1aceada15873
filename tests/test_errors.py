"""Bad arguments raise TypeError or ValueError before any compute, naming the argument."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from convlib import functional as cf

x4, w4 = torch.randn(1, 4, 6, 6), torch.randn(2, 4, 3, 3)

CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    # wrong ndim
    ("input ndim", lambda: cf.conv2d(torch.randn(6, 6), w4), ValueError, "input"),
    ("weight ndim", lambda: cf.conv2d(x4, torch.randn(2, 4, 3)), ValueError, "weight"),
    ("conv1d input ndim", lambda: cf.conv1d(x4, torch.randn(2, 4, 3)), ValueError, "input"),
    ("conv3d weight ndim", lambda: cf.conv3d(torch.randn(1, 4, 3, 3, 3), w4), ValueError, "weight"),
    ("bias ndim", lambda: cf.conv2d(x4, w4, torch.randn(2, 1)), ValueError, "bias"),
    ("bias size", lambda: cf.conv2d(x4, w4, torch.randn(3)), ValueError, "bias"),
    # channels and groups
    ("channels", lambda: cf.conv2d(x4, torch.randn(2, 3, 3, 3)), ValueError, "channels"),
    ("groups in", lambda: cf.conv2d(torch.randn(1, 3, 6, 6), torch.randn(2, 1, 3, 3), groups=2), ValueError, "groups"),
    ("groups out", lambda: cf.conv2d(x4, torch.randn(3, 2, 3, 3), groups=2), ValueError, "groups"),
    ("groups zero", lambda: cf.conv2d(x4, w4, groups=0), ValueError, "groups"),
    ("groups type", lambda: cf.conv2d(x4, w4, groups=1.0), TypeError, "groups"),  # type: ignore[arg-type]
    # sizes
    ("kernel too large", lambda: cf.conv2d(torch.randn(1, 4, 2, 2), w4), ValueError, "kernel"),
    ("dilated kernel too large", lambda: cf.conv2d(x4, w4, dilation=3), ValueError, "kernel"),
    ("stride zero", lambda: cf.conv2d(x4, w4, stride=0), ValueError, "stride"),
    ("stride negative", lambda: cf.conv2d(x4, w4, stride=(1, -1)), ValueError, "stride"),
    ("stride length", lambda: cf.conv2d(x4, w4, stride=(1, 1, 1)), TypeError, "stride"),
    ("dilation zero", lambda: cf.conv2d(x4, w4, dilation=0), ValueError, "dilation"),
    ("padding negative", lambda: cf.conv2d(x4, w4, padding=-1), ValueError, "padding"),
    ("padding string", lambda: cf.conv2d(x4, w4, padding="full"), ValueError, "padding"),
    ("same with stride", lambda: cf.conv2d(x4, w4, padding="same", stride=2), ValueError, "padding='same'"),
    ("reflect too wide", lambda: cf.conv2d(x4, w4, padding=6, padding_mode="reflect"), ValueError, "padding"),
    # choices
    ("padding_mode", lambda: cf.conv2d(x4, w4, padding_mode="mirror"), ValueError, "padding_mode"),
    ("method", lambda: cf.conv2d(x4, w4, method="direct"), ValueError, "method"),
    ("winograd kernel", lambda: cf.conv2d(x4, torch.randn(2, 4, 5, 5), method="winograd"), ValueError, "method"),
    ("winograd stride", lambda: cf.conv2d(x4, w4, stride=2, method="winograd"), ValueError, "method"),
    # types, dtypes, devices
    ("input type", lambda: cf.conv2d(x4.numpy(), w4), TypeError, "input"),  # type: ignore[arg-type]
    ("integer input", lambda: cf.conv2d(x4.long(), w4), TypeError, "input"),
    ("weight dtype", lambda: cf.conv2d(x4, w4.double()), TypeError, "weight"),
    ("bias dtype", lambda: cf.conv2d(x4, w4, torch.randn(2, dtype=torch.float64)), TypeError, "bias"),
    ("weight device", lambda: cf.conv2d(x4, w4.to("meta")), ValueError, "weight"),
    ("bias device", lambda: cf.conv2d(x4, w4, torch.randn(2, device="meta")), ValueError, "bias"),
    # transposed convolution
    ("T channels", lambda: cf.conv_transpose2d(x4, torch.randn(3, 2, 3, 3)), ValueError, "channels"),
    ("T groups", lambda: cf.conv_transpose2d(x4, torch.randn(4, 2, 3, 3), groups=3), ValueError, "groups"),
    (
        "T output_padding",
        lambda: cf.conv_transpose2d(x4, w4.transpose(0, 1), stride=2, output_padding=2),
        ValueError,
        "output_padding",
    ),
    (
        "T output_padding dilation",
        lambda: cf.conv_transpose1d(torch.randn(1, 4, 5), torch.randn(4, 2, 3), dilation=2, output_padding=2),
        ValueError,
        "output_padding",
    ),
    (
        "T padding",
        lambda: cf.conv_transpose2d(torch.randn(1, 4, 1, 1), torch.randn(4, 2, 1, 1), padding=1),
        ValueError,
        "padding",
    ),
    ("T stride", lambda: cf.conv_transpose2d(x4, w4.transpose(0, 1), stride=0), ValueError, "stride"),
    ("T weight dtype", lambda: cf.conv_transpose2d(x4, w4.transpose(0, 1).double()), TypeError, "weight"),
    ("T method", lambda: cf.conv_transpose2d(x4, w4.transpose(0, 1), method="gemm"), ValueError, "method"),
    # unfold / fold
    ("unfold ndim", lambda: cf.unfold(torch.randn(6, 6), 2), ValueError, "input"),
    ("unfold kernel_size", lambda: cf.unfold(x4, 0), ValueError, "kernel_size"),
    ("unfold too large", lambda: cf.unfold(x4, 7), ValueError, "kernel_size"),
    ("fold blocks", lambda: cf.fold(torch.randn(1, 16, 5), (6, 6), 2), ValueError, "input"),
    ("fold output_size", lambda: cf.fold(torch.randn(1, 16, 25), (0, 6), 2), ValueError, "output_size"),
]


@pytest.fixture
def no_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any convolution compute fail loudly, so a passing error test proves the check came first."""

    def compute(*args: object, **kwargs: object) -> None:
        raise AssertionError("computed before validating")

    # the ops reach the algorithms only through these two (with or without autograd's Function)
    monkeypatch.setattr(cf, "apply_conv", compute)
    monkeypatch.setattr(cf, "apply_conv_transpose", compute)


@pytest.mark.usefixtures("no_compute")
@pytest.mark.parametrize(("call", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_argument_is_rejected_before_compute(
    call: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.usefixtures("no_compute")
@pytest.mark.parametrize("call", [lambda: cf.conv2d(x4, w4), lambda: cf.conv_transpose2d(x4, w4.transpose(0, 1))])
def test_no_compute_fixture_catches_a_valid_call(call: Callable[[], object]) -> None:
    # the fixture must intercept the real compute path, or the tests above would prove nothing
    with pytest.raises(AssertionError, match="computed before validating"):
        call()


def test_messages_say_expected_and_given() -> None:
    with pytest.raises(ValueError, match=r"stride must be positive integers, got \(0, 0\)"):
        cf.conv2d(x4, w4, stride=0)
    with pytest.raises(ValueError, match=r"must equal weight.shape\[1\] \* groups = 3, got 4"):
        cf.conv2d(x4, torch.randn(2, 3, 3, 3))
