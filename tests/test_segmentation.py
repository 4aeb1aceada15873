"""convlib.course.segmentation: U-Net shapes and field, the FCN rewrite against every crop, IoU by direct count."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

import convlib.nn as cnn
from convlib.course.segmentation import UNet, dilated_segmenter, fully_convolutional, iou, window_classifier
from convlib.dependency import dependency_mask
from convlib.receptive_field import receptive_field

VARIANTS = list(itertools.product(["transposed", "resize"], [True, False]))


@pytest.mark.parametrize(("upsample", "skips"), VARIANTS)
def test_unet_shapes(upsample: str, skips: bool) -> None:
    net = UNet(base=4, levels=2, upsample=upsample, skips=skips)  # type: ignore[arg-type]
    out, ups = net.run(torch.zeros(2, 1, 24, 32))
    assert out.shape == (2, 11, 24, 32)
    assert [tuple(u.shape) for u in ups] == [(2, 8, 12, 16), (2, 4, 24, 32)]  # coarsest first
    assert torch.equal(net(torch.zeros(2, 1, 24, 32)), out)


def test_unet_three_levels_and_channels() -> None:
    net = UNet(in_channels=3, classes=5, base=2, levels=3)
    assert net(torch.zeros(1, 3, 16, 16)).shape == (1, 5, 16, 16)
    assert [block[0].out_channels for block in net.encoder] == [2, 4, 8, 16]


def test_upsamplers_have_equal_parameter_counts_and_skips_add_only_input_channels() -> None:
    count = {v: sum(p.numel() for p in UNet(base=8, upsample=v[0], skips=v[1]).parameters()) for v in VARIANTS}  # type: ignore[arg-type]
    assert count[("transposed", True)] == count[("resize", True)]
    assert count[("transposed", False)] == count[("resize", False)]
    # a skip doubles the input channels of the first decoder convolution of each level: 9 * c * c more weights
    assert count[("transposed", True)] - count[("transposed", False)] == 9 * (8 * 8 + 16 * 16)


def test_unet_uses_convlib_layers() -> None:
    net = UNet(upsample="transposed")
    kinds = {type(m) for m in net.modules()}
    assert cnn.Conv2d in kinds and cnn.ConvTranspose2d in kinds and cnn.MaxPool2d in kinds
    assert nn.Conv2d not in kinds


@pytest.mark.parametrize(("upsample", "skips"), VARIANTS)
def test_unet_field_is_the_deepest_paths_dependency_mask(upsample: str, skips: bool) -> None:
    torch.set_default_dtype(torch.float64)
    try:
        net = UNet(base=2, levels=2, upsample=upsample, skips=skips)  # type: ignore[arg-type]
        net.pool = nn.AvgPool2d(2)  # max pooling passes gradient to one pixel; the field is the window's
        with torch.no_grad():
            for p in net.parameters():
                p.fill_(0.5) if p.ndim > 1 else p.zero_()  # positive weights: every ReLU on, no cancellation
        for unit in [(12, 12), (13, 14), (0, 0), (23, 5)]:
            x = torch.ones(1, 1, 24, 24, requires_grad=True)
            net(x)[0, 0, unit[0], unit[1]].backward()
            assert x.grad is not None
            expected = dependency_mask(net.deepest_path(), (24, 24), unit)
            assert torch.equal(x.grad[0, 0] != 0, expected), unit
    finally:
        torch.set_default_dtype(torch.float32)


def test_unet_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="upsample"):
        UNet(upsample="bilinear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="levels"):
        UNet(levels=0)
    with pytest.raises(ValueError, match="multiples of 4"):
        UNet(levels=2)(torch.zeros(1, 1, 30, 32))


def test_dilated_segmenter() -> None:
    net = dilated_segmenter((2, 2, 2), width=4)
    assert net(torch.zeros(1, 1, 20, 20)).shape == (1, 11, 20, 20)
    field = receptive_field(net[:-1])[-1]  # up to the head: stride 2 through the pool
    assert field.size == (4 + 2 * 2 * 2 * 3, 4 + 2 * 2 * 2 * 3) and field.jump == (2, 2)
    with pytest.raises(ValueError, match="rates"):
        dilated_segmenter((1, 0))


def test_dilated_segmenter_with_batch_norm_has_the_same_geometry() -> None:
    plain, normed = dilated_segmenter((1, 2, 3), width=4), dilated_segmenter((1, 2, 3), width=4, batch_norm=True)
    names = [
        "stem",
        "norm0",
        "relu0",
        "pool",
        "conv1",
        "norm1",
        "relu1",
        "conv2",
        "norm2",
        "relu2",
        "conv3",
        "norm3",
        "relu3",
        "head",
        "up",
    ]
    assert [n for n, _ in normed.named_children()] == names
    assert normed.conv2.dilation == (2, 2) and normed.conv2.bias is None
    assert torch.equal(dependency_mask(plain, (24, 24), (11, 12)), dependency_mask(normed, (24, 24), (11, 12)))


def test_dilated_segmenter_without_pool_keeps_full_resolution() -> None:
    net = dilated_segmenter((2, 2, 2), width=4, pool=False)
    assert "pool" not in dict(net.named_children()) and "up" not in dict(net.named_children())
    assert net(torch.zeros(1, 1, 15, 13)).shape == (1, 11, 15, 13)
    field = receptive_field(net)[-1]
    assert field.size == (3 + 2 * (2 + 2 + 2), 3 + 2 * (2 + 2 + 2)) and field.jump == (1, 1)


def classifier() -> nn.Sequential:
    """A small window classifier without padding: total stride 4, field 28."""
    return window_classifier(channels=(4, 8), hidden=16).double()


def test_window_classifier_reads_one_window() -> None:
    net = window_classifier()
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert [type(m) for m in (net.conv1, net.pool1)] == [cnn.Conv2d, cnn.MaxPool2d]
    field = receptive_field(net[:6])[-1]
    assert field.size == (16, 16) and field.jump == (4, 4)  # the 4x4 map of pool2 spans 16 + 3 * 4 = 28


def test_unet_batch_norm_sits_between_convolution_and_relu() -> None:
    net = UNet(base=4, batch_norm=True)
    block = net.encoder[0]
    assert [type(m) for m in block] == [cnn.Conv2d, nn.BatchNorm2d, nn.ReLU, cnn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert block[0].bias is None  # the normalisation's shift replaces it
    assert net(torch.zeros(2, 1, 16, 16)).shape == (2, 11, 16, 16)


def test_fcn_equals_the_classifier_on_its_training_size() -> None:
    torch.manual_seed(0)
    net = classifier()
    fcn = fully_convolutional(net, (1, 28, 28))
    assert list(dict(fcn.named_children())) == [n for n in dict(net.named_children()) if n != "flatten"]
    assert fcn.fc1.kernel_size == (4, 4) and fcn.fc2.kernel_size == (1, 1)
    x = torch.rand(5, 1, 28, 28, dtype=torch.float64)
    out = fcn(x)
    assert out.shape == (5, 10, 1, 1)
    assert torch.allclose(out.flatten(1), net(x), atol=1e-12)


@pytest.mark.parametrize(("height", "width"), [(28, 28), (40, 52), (64, 64), (31, 45)])
def test_fcn_on_a_canvas_equals_the_classifier_on_every_crop(height: int, width: int) -> None:
    torch.manual_seed(1)
    net = classifier()
    fcn = fully_convolutional(net, (1, 28, 28))
    stride = receptive_field(fcn)[-1].jump[0]
    assert stride == 4
    canvas = torch.rand(2, 1, height, width, dtype=torch.float64)
    dense = fcn(canvas)  # (2, 10, rows, cols)
    rows, cols = (height - 28) // stride + 1, (width - 28) // stride + 1
    assert dense.shape == (2, 10, rows, cols)
    for i, j in itertools.product(range(rows), range(cols)):
        crop = canvas[..., i * stride : i * stride + 28, j * stride : j * stride + 28]
        assert torch.allclose(dense[..., i, j], net(crop), atol=1e-12), (i, j)


def test_fcn_keeps_the_classifier_unchanged_and_handles_no_bias() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3, bias=False), nn.ReLU(), nn.Linear(3, 2))
    fcn = fully_convolutional(net, (1, 4, 4))
    with torch.no_grad():
        fcn[0].weight.zero_()
    assert net[0].weight.abs().sum() > 0  # copied, not shared
    assert fcn[1].bias is None
    x = torch.rand(3, 1, 4, 4)
    assert torch.allclose(fully_convolutional(net, (1, 4, 4))(x).flatten(1), net(x), atol=1e-6)


@pytest.mark.parametrize(
    ("net", "match"),
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(2, 2)), "before any nn.Flatten"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), "no nn.Flatten"),
        (nn.Sequential(nn.Flatten(), nn.Linear(16, 4), nn.Conv2d(4, 4, 1)), "after the Flatten"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(0), nn.Linear(8, 2)), "nn.Flatten"),
    ],
)
def test_fcn_rejects_what_it_cannot_rewrite(net: nn.Sequential, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fully_convolutional(net, (1, 4, 4))


def iou_by_counting(y_true: torch.Tensor, y_pred: torch.Tensor, classes: int) -> list[float]:
    """Per class, |true ∩ predicted| / |true ∪ predicted| from the boolean masks; nan if both are empty."""
    out = []
    for c in range(classes):
        a, b = y_true == c, y_pred == c
        union = int((a | b).sum())
        out.append(float("nan") if union == 0 else int((a & b).sum()) / union)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_iou_matches_a_direct_count(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    y_true = torch.randint(0, 6, (3, 9, 11), generator=g)
    y_pred = torch.where(torch.rand(3, 9, 11, generator=g) < 0.6, y_true, torch.randint(0, 6, (3, 9, 11), generator=g))
    y_true[y_true == 5] = 4  # class 5 is absent from the truth, may still be predicted
    expected = torch.tensor(iou_by_counting(y_true, y_pred, 7), dtype=torch.float64)  # class 6: absent from both
    got = iou(y_true, y_pred, classes=7)
    assert got.dtype == torch.float64 and got.shape == (7,)
    assert torch.isnan(got[6]) and torch.allclose(got, expected, equal_nan=True)
    assert torch.equal(iou(y_true, y_true, classes=7)[:6].isnan(), torch.tensor([False] * 5 + [True]))


def test_iou_perfect_and_disjoint() -> None:
    y = torch.tensor([[0, 1], [1, 2]])
    assert iou(y, y, classes=3).tolist() == [1.0, 1.0, 1.0]
    assert iou(y, (y + 1) % 3, classes=3).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="one shape"):
        iou(y, y.flatten())
