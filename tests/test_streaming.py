"""convlib.course.streaming: causal convolution against torch, causality by gradients, streaming = whole."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convlib.course.streaming import CausalConv1d, Streamer, causal_conv1d
from convlib.receptive_field import receptive_field


def torch_causal(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, d: int) -> torch.Tensor:
    """The oracle: torch's conv1d on the input padded with d(k-1) zeros on the left only."""
    return F.conv1d(F.pad(x, (d * (w.shape[2] - 1), 0)), w, b, dilation=d)


@pytest.mark.parametrize("method", ["loops", "im2col", "fft", "auto"])
@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 1), (2, 4), (3, 2), (5, 3)])
def test_causal_conv1d_matches_torch(k: int, d: int, method: str) -> None:
    g = torch.Generator().manual_seed(k * 10 + d)
    x = torch.randn(2, 3, 17, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, k, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    y = causal_conv1d(x, w, b, d, method=method)
    assert y.shape == (2, 4, 17)
    torch.testing.assert_close(y, torch_causal(x, w, b, d))


@pytest.mark.parametrize("method", ["loops", "im2col", "fft"])
@pytest.mark.parametrize(("k", "d"), [(2, 1), (3, 2), (2, 8)])
def test_output_t_depends_on_no_later_input(k: int, d: int, method: str) -> None:
    x = torch.randn(1, 2, 20, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, k, dtype=torch.float64)
    y = causal_conv1d(x, w, dilation=d, method=method)
    tolerance = 1e-12 if method == "fft" else 0.0  # the FFT leaves round-off where the gradient is 0
    for t in range(20):
        (grad,) = torch.autograd.grad(y[0, :, t].sum(), x, retain_graph=True)
        reached = (grad.abs().sum(dim=(0, 1)) > tolerance).nonzero().flatten()
        assert int(reached.max()) == t  # the present is read, nothing after it
        assert set(reached.tolist()) <= {t - d * j for j in range(k)}  # only the taps


def test_causal_conv1d_gradcheck() -> None:
    x = torch.randn(1, 2, 9, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: causal_conv1d(x, w, dilation=2), (x, w))


def test_causal_layer_is_torch_compatible() -> None:
    torch.manual_seed(0)
    layer = CausalConv1d(3, 5, 2, dilation=4)
    torch.manual_seed(0)
    reference = nn.Conv1d(3, 5, 2, dilation=4)  # same constructor, so the same initial weights
    assert torch.equal(layer.weight, reference.weight) and layer.context == 4
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, 11)
    torch.testing.assert_close(layer(x), torch_causal(x, reference.weight, reference.bias, 4))
    assert isinstance(layer, nn.Conv1d) and layer.padding == (0,)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_wavenet_stack_sees_two_to_the_depth(depth: int) -> None:
    stack = nn.Sequential(*[CausalConv1d(1, 1, 2, dilation=2**i, method="im2col") for i in range(depth)])
    assert receptive_field(stack)[-1].size == (2**depth,)
    for layer in stack:
        nn.init.ones_(layer.weight)  # positive paths: every input in the field gets a non-zero gradient
    x = torch.randn(1, 1, 3 * 2**depth, requires_grad=True)
    t = x.shape[2] - 1
    stack(x)[0, 0, t].backward()
    assert x.grad is not None
    assert x.grad[0, 0].nonzero().flatten().tolist() == list(range(t - 2**depth + 1, t + 1))


def wavenet(channels: int = 3, depth: int = 4, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [CausalConv1d(1, channels, 2)]
    for i in range(1, depth):
        layers += [nn.Tanh(), CausalConv1d(channels, channels, 2, dilation=2**i)]
    return nn.Sequential(*layers, nn.ReLU(), CausalConv1d(channels, 1, 3, dilation=2)).double()


@given(cuts=st.lists(st.integers(1, 40), min_size=1, max_size=6))
def test_streaming_equals_whole_sequence(cuts: list[int]) -> None:
    model = wavenet()
    x = torch.randn(2, 1, sum(cuts), dtype=torch.float64, generator=torch.Generator().manual_seed(len(cuts)))
    stream = Streamer(model)
    pieces = [stream(chunk) for chunk in x.split(cuts, dim=2)]
    torch.testing.assert_close(torch.cat(pieces, dim=2), model(x), rtol=1e-12, atol=1e-12)


def test_streaming_one_sample_at_a_time_and_reset() -> None:
    model = wavenet()
    x = torch.randn(1, 1, 50, dtype=torch.float64)
    stream = Streamer(model)
    whole = model(x)
    torch.testing.assert_close(torch.cat([stream(x[:, :, t : t + 1]) for t in range(50)], dim=2), whole)
    assert [tuple(b.shape) for b in stream.buffers if b is not None] == [
        (1, 1, 1),
        (1, 3, 2),
        (1, 3, 4),
        (1, 3, 8),
        (1, 3, 4),
    ]
    stream.reset()  # a new sequence starts from the zero padding again
    torch.testing.assert_close(stream(x[:, :, :20]), whole[:, :, :20])


def test_streamer_refuses_layers_that_see_the_future() -> None:
    with pytest.raises(TypeError, match="layer 1"):
        Streamer(nn.Sequential(CausalConv1d(1, 1, 2), nn.Conv1d(1, 1, 3, padding=1)))
    with pytest.raises(TypeError, match=r"nn\.Sequential"):
        Streamer(CausalConv1d(1, 1, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk"):
        Streamer(nn.Sequential(CausalConv1d(1, 1, 2)))(torch.zeros(1, 1, 0))


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="dilation"):
        causal_conv1d(torch.zeros(1, 1, 4), torch.zeros(1, 1, 2), dilation=0)
    with pytest.raises(ValueError, match="weight"):
        causal_conv1d(torch.zeros(1, 1, 4), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="kernel_size"):
        CausalConv1d(1, 1, (2,))  # type: ignore[arg-type]
