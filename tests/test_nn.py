"""convlib.nn against torch.nn: same initialisation, interchangeable state dicts, same outputs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

import convlib.nn as cnn
from convlib.functional import METHODS
from convlib.receptive_field import receptive_field

# (convlib class, torch class, args, kwargs): a spread of constructor arguments, defaults included.
CONVS = [
    (cnn.Conv1d, nn.Conv1d, (3, 4, 5), {}),
    (
        cnn.Conv1d,
        nn.Conv1d,
        (4, 6, 3),
        {"stride": 2, "padding": 2, "dilation": 2, "groups": 2, "padding_mode": "circular"},
    ),
    (cnn.Conv2d, nn.Conv2d, (3, 8, 3), {}),
    (cnn.Conv2d, nn.Conv2d, (3, 8, (3, 5)), {"stride": (2, 1), "padding": (1, 2), "bias": False}),
    (cnn.Conv2d, nn.Conv2d, (4, 8, 3), {"padding": "same", "dilation": 2, "groups": 4, "padding_mode": "reflect"}),
    (cnn.Conv2d, nn.Conv2d, (2, 2, 3), {"padding": 1, "padding_mode": "replicate"}),
    (cnn.ConvTranspose2d, nn.ConvTranspose2d, (4, 6, 3), {}),
    (
        cnn.ConvTranspose2d,
        nn.ConvTranspose2d,
        (4, 6, 3),
        {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 1, "bias": False},
    ),
]
CONV_IDS = [f"{ours.__name__}-{i}" for i, (ours, *_) in enumerate(CONVS)]


def _pair(
    ours: type[nn.Module], theirs: type[nn.Module], args: tuple, kwargs: dict, seed: int = 0
) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    a = ours(*args, **kwargs).double()
    torch.manual_seed(seed)
    b = theirs(*args, **kwargs).double()
    return a, b


def _assert_same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


@pytest.mark.parametrize(("ours", "theirs", "args", "kwargs"), CONVS, ids=CONV_IDS)
def test_same_seed_same_weights_and_repr(ours: type, theirs: type, args: tuple, kwargs: dict) -> None:
    a, b = _pair(ours, theirs, args, kwargs)
    _assert_same_state(a, b)
    assert isinstance(a, theirs)
    assert repr(a) == repr(b)
    assert a.method == "auto"


@pytest.mark.parametrize(("ours", "theirs", "args", "kwargs"), CONVS, ids=CONV_IDS)
def test_state_dict_loads_both_ways(ours: type, theirs: type, args: tuple, kwargs: dict) -> None:
    a, b = _pair(ours, theirs, args, kwargs, seed=1)
    fresh_a, fresh_b = _pair(ours, theirs, args, kwargs, seed=2)
    fresh_a.load_state_dict(b.state_dict())  # torch -> convlib
    fresh_b.load_state_dict(a.state_dict())  # convlib -> torch
    _assert_same_state(fresh_a, b)
    _assert_same_state(fresh_b, a)


def _input_for(module: nn.Module) -> torch.Tensor:
    nd = 1 if isinstance(module, nn.Conv1d) else 2
    c_in = module.in_channels if isinstance(module, nn.modules.conv._ConvNd) else 3
    g = torch.Generator().manual_seed(3)
    return torch.randn(2, c_in, *(9,) * nd, generator=g, dtype=torch.float64)


@pytest.mark.parametrize(("ours", "theirs", "args", "kwargs"), CONVS, ids=CONV_IDS)
def test_conv_outputs_and_gradients_match_torch(ours: type, theirs: type, args: tuple, kwargs: dict) -> None:
    a, b = _pair(ours, theirs, args, kwargs)
    x = _input_for(a)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_a, out_b = a(xa), b(xb)
    torch.testing.assert_close(out_a, out_b)
    out_a.sum().backward()
    out_b.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(a.weight.grad, b.weight.grad)


def test_conv_transpose_output_size_argument() -> None:
    a, b = _pair(cnn.ConvTranspose2d, nn.ConvTranspose2d, (2, 3, 3), {"stride": 2, "padding": 1})
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    out = a(x, output_size=[10, 9])  # stride 2 maps both 9 and 10 to 5; ask for 10 rows, 9 columns
    assert out.shape == (1, 3, 10, 9)
    torch.testing.assert_close(out, b(x, output_size=[10, 9]))


def test_method_is_kept_and_shown() -> None:
    m = cnn.Conv2d(1, 2, 3, method="auto")
    assert "method" not in repr(m)  # the default is left out, as torch leaves out its defaults
    m.method = "fft"
    assert repr(m).endswith("kernel_size=(3, 3), stride=(1, 1), method='fft')")
    assert "method" not in m.state_dict()


@pytest.mark.parametrize("ours", [cnn.Conv1d, cnn.Conv2d, cnn.ConvTranspose2d])
@pytest.mark.parametrize("method", ["gemm", 2])
def test_unknown_method_fails_at_construction(ours: type, method: object) -> None:
    with pytest.raises(ValueError, match=f"{ours.__name__}: method must be one of 'auto'"):
        ours(1, 1, 3, method=method)


def test_conv_transpose_refuses_string_padding() -> None:
    with pytest.raises(ValueError, match="ConvTranspose2d: padding must be an int"):
        cnn.ConvTranspose2d(1, 1, 3, padding="same")


@pytest.mark.parametrize("method", METHODS)
def test_every_method_reaches_functional(method: str) -> None:
    torch.manual_seed(0)
    ours = cnn.Conv2d(2, 3, 3, padding=1, method=method).double()
    torch.manual_seed(0)
    theirs = nn.Conv2d(2, 3, 3, padding=1).double()
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(ours(x), theirs(x))


POOLS: list[tuple[Callable[..., nn.Module], Callable[..., nn.Module], dict]] = [
    (cnn.MaxPool2d, nn.MaxPool2d, {"kernel_size": 2}),
    (
        cnn.MaxPool2d,
        nn.MaxPool2d,
        {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True, "return_indices": True},
    ),
    (cnn.AvgPool2d, nn.AvgPool2d, {"kernel_size": 2}),
    (
        cnn.AvgPool2d,
        nn.AvgPool2d,
        {"kernel_size": (3, 2), "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    ),
    (cnn.AvgPool2d, nn.AvgPool2d, {"kernel_size": 3, "divisor_override": 4}),
]


@pytest.mark.parametrize(("ours", "theirs", "kwargs"), POOLS)
def test_pool_modules_match_torch(ours: Callable, theirs: Callable, kwargs: dict) -> None:
    a, b = ours(**kwargs), theirs(**kwargs)
    assert repr(a) == repr(b)
    assert isinstance(a, type(b))
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    out_a, out_b = a(x), b(x)
    if kwargs.get("return_indices"):
        assert torch.equal(out_a[1], out_b[1])
        out_a, out_b = out_a[0], out_b[0]
    torch.testing.assert_close(out_a, out_b)


def test_receptive_field_reads_convlib_modules() -> None:
    model = nn.Sequential(cnn.Conv2d(1, 4, 3), nn.ReLU(), cnn.MaxPool2d(2), cnn.Conv2d(4, 4, 3), cnn.AvgPool2d(2))
    assert [rf.size for rf in receptive_field(model)] == [(3, 3), (3, 3), (4, 4), (8, 8), (10, 10)]
