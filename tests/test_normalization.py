"""convlib.normalization against torch: batch_norm and BatchNorm2d, outputs, gradients and running statistics."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convlib.normalization import BatchNorm2d, batch_norm, reestimate_running_stats

SHAPES = [(5, 3), (4, 2, 7), (3, 4, 5, 6), (2, 3, 2, 2, 3)]  # (N, C), (N, C, L), (N, C, H, W), (N, C, D, H, W)


def _stats(c: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.randn(c, generator=generator, dtype=torch.float64)
    var = torch.rand(c, generator=generator, dtype=torch.float64) + 0.5
    return mean, var


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0])
def test_batch_norm_matches_torch(shape: tuple[int, ...], training: bool, affine: bool, momentum: float) -> None:
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 3 + 1
    c = shape[1]
    weight = torch.randn(c, generator=g, dtype=torch.float64) if affine else None
    bias = torch.randn(c, generator=g, dtype=torch.float64) if affine else None
    ours_mean, ours_var = _stats(c, g)
    ref_mean, ref_var = ours_mean.clone(), ours_var.clone()
    out = batch_norm(x, ours_mean, ours_var, weight, bias, training, momentum, 1e-5)
    ref = F.batch_norm(x, ref_mean, ref_var, weight, bias, training, momentum, 1e-5)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours_mean, ref_mean, rtol=1e-12, atol=1e-12)  # running updates, in place
    torch.testing.assert_close(ours_var, ref_var, rtol=1e-12, atol=1e-12)


def test_running_variance_is_unbiased_and_normalisation_biased() -> None:
    x = torch.randn(6, 2, 3, 3, dtype=torch.float64)
    mean, var = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    out = batch_norm(x, mean, var, training=True, momentum=1.0, eps=0.0)  # momentum 1: the batch's own
    n = 6 * 3 * 3
    assert torch.allclose(var, x.transpose(0, 1).reshape(2, -1).var(dim=1, correction=1))
    assert torch.allclose(out.pow(2).mean(dim=(0, 2, 3)), torch.ones(2, dtype=torch.float64))  # divided by n
    assert torch.allclose(var * (n - 1) / n, x.var(dim=(0, 2, 3), correction=0))


def test_training_without_running_statistics() -> None:
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(batch_norm(x, None, None, training=True), F.batch_norm(x, None, None, training=True))


@given(
    n=st.integers(2, 4),
    c=st.integers(1, 3),
    hw=st.integers(1, 4),
    scale=st.floats(0.1, 10.0),
    shift=st.floats(-5.0, 5.0),
)
def test_gradients_match_torch(n: int, c: int, hw: int, scale: float, shift: float) -> None:
    g = torch.Generator().manual_seed(n * 100 + c * 10 + hw)
    x = (torch.randn(n, c, hw, hw, generator=g, dtype=torch.float64) * scale + shift).requires_grad_()
    weight = torch.randn(c, generator=g, dtype=torch.float64).requires_grad_()
    bias = torch.randn(c, generator=g, dtype=torch.float64).requires_grad_()
    upstream = torch.randn(n, c, hw, hw, generator=g, dtype=torch.float64)
    grads = []
    for fn in (batch_norm, F.batch_norm):
        out = fn(x, None, None, weight, bias, True, 0.1, 1e-5)
        grads.append(torch.autograd.grad(out, (x, weight, bias), upstream))
    for ours, ref in zip(*grads, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-8, atol=1e-10)


def test_gradcheck() -> None:
    x = torch.randn(3, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), (x, w, b))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"momentum": 0.3}, {"momentum": None}, {"affine": False}, {"track_running_stats": False}, {"eps": 1e-3}],
)
def test_module_matches_torch_over_steps(kwargs: dict) -> None:
    torch.manual_seed(0)
    ours, ref = BatchNorm2d(3, dtype=torch.float64, **kwargs), nn.BatchNorm2d(3, dtype=torch.float64, **kwargs)
    if ours.affine:
        with torch.no_grad():
            for m in (ours, ref):
                m.weight.copy_(torch.tensor([0.5, 1.0, 2.0]))
                m.bias.copy_(torch.tensor([-1.0, 0.0, 1.0]))
    assert repr(ours) == repr(ref) and ours.state_dict().keys() == ref.state_dict().keys()
    g = torch.Generator().manual_seed(1)
    for _ in range(4):  # training steps: outputs and every buffer (running stats, batch count) agree
        x = torch.randn(5, 3, 4, 4, generator=g, dtype=torch.float64) * 2 + 3
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
        for key, value in ref.state_dict().items():
            torch.testing.assert_close(ours.state_dict()[key], value, rtol=1e-12, atol=1e-12)
    ours.eval()
    ref.eval()
    x = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)


def test_module_loads_torch_state_dict() -> None:
    ref = nn.BatchNorm2d(4, dtype=torch.float64)
    ref(torch.randn(3, 4, 2, 2, dtype=torch.float64))  # one step moves the running statistics
    ours = BatchNorm2d(4, dtype=torch.float64)
    ours.load_state_dict(ref.state_dict())
    ours.eval()
    ref.eval()
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x))
    assert isinstance(ours, nn.BatchNorm2d)


def test_errors() -> None:
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(torch.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        batch_norm(torch.randn(2, 3), None, None, training=False)
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        batch_norm(torch.randn(2, 3), torch.zeros(2), torch.ones(3), training=True)
    with pytest.raises(ValueError, match="channel axis"):
        batch_norm(torch.randn(3), None, None, training=True)
    with pytest.raises(TypeError, match="floating-point"):
        batch_norm(torch.ones(2, 3, dtype=torch.int64), None, None, training=True)
    with pytest.raises(ValueError, match="4-D"):
        BatchNorm2d(3)(torch.randn(2, 3, 4))


@pytest.mark.parametrize("layer", [BatchNorm2d, nn.BatchNorm2d])
def test_reestimate_running_stats(layer: type[nn.BatchNorm2d]) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, dtype=torch.float64), layer(3, momentum=0.3, dtype=torch.float64))
    x = torch.randn(12, 1, 6, 6, dtype=torch.float64)
    model(x)  # training moves the running statistics away from x's
    out = reestimate_running_stats(model, x, batch_size=4)
    assert out is model and not model.training and model[1].momentum == 0.3
    with torch.no_grad():
        z = model[0](x).view(3, 4, 3, 4, 4)  # (batch, 4 images, C, 4, 4): the three batches of 4
    means = z.mean(dim=(1, 3, 4))  # (3 batches, C)
    variances = z.transpose(1, 2).reshape(3, 3, -1).var(dim=2)  # unbiased, per batch and channel
    torch.testing.assert_close(model[1].running_mean, means.mean(dim=0))
    torch.testing.assert_close(model[1].running_var, variances.mean(dim=0))
    assert model[1].num_batches_tracked.item() == 3
    with pytest.raises(ValueError, match="batch_size"):
        reestimate_running_stats(model, x, batch_size=0)
