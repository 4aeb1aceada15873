"""convlib.receptive_field: worked examples, torch modules, and the field measured by gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convlib.receptive_field import Layer, Paths, RFLayer, receptive_field
from tests.strategies import paddings_within, per_axis

# ---------------------------------------------------------------- receptive field: worked examples


def vgg16_features() -> nn.Sequential:
    """torchvision's VGG-16 ``features``, built on the meta device: hyper-parameters without weights."""
    layers: list[nn.Module] = []
    c_in = 3
    for c_out in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if c_out == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            assert isinstance(c_out, int)
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, device="meta"), nn.ReLU(inplace=True)]
            c_in = c_out
    return nn.Sequential(*layers)


def test_three_3x3_convs_see_7x7() -> None:
    assert [rf.size for rf in receptive_field([Layer(3), Layer(3), Layer(3)], ndim=2)] == [(3, 3), (5, 5), (7, 7)]


def test_two_3x3_stride2_convs_see_7() -> None:
    assert receptive_field([Layer(3, 2), Layer(3, 2)])[-1] == RFLayer("1", (7,), (4,), (3.0,))


def test_vgg16_receptive_field() -> None:
    rf = receptive_field(vgg16_features())
    assert len(rf) == 31  # 13 convs + 13 ReLUs + 5 pools, one entry each
    assert rf[-3].name == "28:Conv2d"
    assert rf[-3].size == rf[-2].size == (196, 196)  # conv5_3; its ReLU changes nothing
    assert rf[-1] == RFLayer("30:MaxPool2d", (212, 212), (32, 32), (15.5, 15.5))  # pool5


def test_modules_layers_and_position_wise_mix() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 4, (3, 5), padding="same"),
        nn.Sequential(nn.BatchNorm2d(4), nn.Dropout(), nn.Identity()),
        nn.AvgPool2d(2),
    )
    rf = receptive_field([model, Layer((1, 3), name="last")])
    assert [r.name for r in rf] == [
        "0.0:Conv2d",
        "0.1.0:BatchNorm2d",
        "0.1.1:Dropout",
        "0.1.2:Identity",
        "0.2:AvgPool2d",
        "last",
    ]
    assert rf[0] == RFLayer("0.0:Conv2d", (3, 5), (1, 1), (0.0, 0.0))  # "same" padding keeps it centred
    assert rf[1:4] == [
        RFLayer(n, (3, 5), (1, 1), (0.0, 0.0)) for n in ["0.1.0:BatchNorm2d", "0.1.1:Dropout", "0.1.2:Identity"]
    ]
    assert rf[-1] == RFLayer("last", (4, 10), (2, 2), (0.5, 2.5))


@pytest.mark.parametrize(
    ("layers", "error", "match"),
    [
        ([nn.Conv2d(1, 1, 3), nn.Linear(4, 4)], TypeError, "1:Linear is not a conv, pooling or position-wise"),
        ([nn.ConvTranspose2d(1, 1, 3)], TypeError, "ConvTranspose2d"),
        (["conv3x3"], TypeError, "str"),
        ([Layer(0)], ValueError, "kernel_size must be positive"),
        ([Layer(3, stride=0)], ValueError, "stride must be positive"),
        ([Layer(3, padding=-1)], ValueError, "padding must be non-negative"),
        ([Layer(3, dilation=(1, 0))], ValueError, "dilation must be positive"),
        ([Layer((3, 3), stride=(1, 1, 1))], ValueError, "lengths"),
        ([nn.Conv1d(1, 1, 3), nn.Conv2d(1, 1, 3)], ValueError, "number of axes"),
        ([Layer(2.5)], TypeError, "kernel_size must be an int"),  # type: ignore[arg-type]
        ([Layer((3, 3, 3)), nn.MaxPool2d(2)], ValueError, "number of axes"),
    ],
)
def test_receptive_field_rejects_bad_layers(layers: list, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        receptive_field(layers)


# ---------------------------------------------------------------- receptive field: empirical


@st.composite
def stacks(draw: st.DrawFn) -> nn.Sequential:
    """A random stack of 1-D or 2-D convs (all-ones weights), average pools and ReLUs."""
    nd = draw(st.sampled_from([1, 2]))
    conv, pool = (nn.Conv1d, nn.AvgPool1d) if nd == 1 else (nn.Conv2d, nn.AvgPool2d)
    layers: list[nn.Module] = []
    for _ in range(draw(st.integers(1, 4))):
        k, s = draw(per_axis(nd, 1, 4)), draw(per_axis(nd, 1, 2))
        p = draw(paddings_within(k))
        if draw(st.booleans()):
            d = draw(per_axis(nd, 1, 3))
            layers.append(conv(1, 1, k, s, p, d, bias=False))
            torch.nn.init.ones_(layers[-1].weight)
        else:
            layers.append(pool(k, s, p))
        if draw(st.booleans()):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _field(model: nn.Sequential, x: torch.Tensor, unit: tuple[int, ...]) -> list[tuple[int, int]]:
    """Per axis, the first and last input position whose gradient reaches output ``unit``."""
    x = x.clone().requires_grad_()
    model(x)[(0, 0, *unit)].backward()
    assert x.grad is not None
    nonzero = x.grad[0, 0].nonzero()  # (count, nd)
    return [(int(lo), int(hi)) for lo, hi in zip(nonzero.min(0).values, nonzero.max(0).values)]


@given(model=stacks())
def test_receptive_field_matches_gradient_extent(model: nn.Sequential) -> None:
    rf = receptive_field(model)[-1]
    # Positive weights and inputs: a position gets a nonzero gradient iff the unit's field covers it.
    # The input is long enough that the middle unit's field stays clear of the borders.
    x = torch.ones(1, 1, *[3 * r + 4 * j + 8 for r, j in zip(rf.size, rf.jump)])
    with torch.no_grad():
        out_shape = model(x).shape[2:]
    unit = tuple(o // 2 for o in out_shape)
    field = _field(model, x, unit)
    for (lo, hi), r, j, start, i in zip(field, rf.size, rf.jump, rf.start, unit):
        assert hi - lo + 1 == r
        assert (lo + hi) / 2 == start + i * j
    # The next unit along every axis sees the same field, shifted by one jump.
    shifted = _field(model, x, tuple(i + 1 for i in unit))
    assert [lo2 - lo for (lo, _), (lo2, _) in zip(field, shifted)] == list(rf.jump)


# torch warns that this case may copy the input; the case is the point of the test
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@pytest.mark.parametrize(("kernel", "dilation"), [((2, 4), 1), ((4, 2), (1, 2)), ((3, 2), (2, 3))])
def test_same_padding_with_even_kernels_matches_gradient_extent(kernel: tuple[int, int], dilation: object) -> None:
    # torch pads an even "same" kernel's extra pixel after (right, bottom): the field sits half a pixel off centre
    model = nn.Sequential(nn.Conv2d(1, 1, kernel, padding="same", dilation=dilation, bias=False))  # type: ignore[arg-type]
    torch.nn.init.ones_(model[0].weight)
    rf = receptive_field(model)[-1]
    unit = (4, 5)
    field = _field(model, torch.ones(1, 1, 12, 12), unit)
    for axis, (lo, hi) in enumerate(field):
        assert hi - lo + 1 == rf.size[axis]
        assert (lo + hi) / 2 == rf.start[axis] + unit[axis] * rf.jump[axis]


# ---------------------------------------------------------------- multi-path blocks


def test_residual_block_field_is_the_largest_path() -> None:
    block = Paths(([Layer(3, padding=1), Layer(3, padding=1)], []))
    assert receptive_field([Layer(3, padding=1), block], ndim=2)[-1] == RFLayer("1", (7, 7), (1, 1), (0.0, 0.0))


def test_union_of_misaligned_paths() -> None:
    # a 2x2 average-pool shortcut is centred half a pixel off the 3x3 stride-2 path; the union spans both
    rf = receptive_field([Paths(([Layer(3, 2, 1)], [Layer(2, 2)]))])[-1]
    main, pool = receptive_field([Layer(3, 2, 1)])[-1], receptive_field([Layer(2, 2)])[-1]
    first = min(main.start[0] - (main.size[0] - 1) / 2, pool.start[0] - (pool.size[0] - 1) / 2)
    last = max(main.start[0] + (main.size[0] - 1) / 2, pool.start[0] + (pool.size[0] - 1) / 2)
    assert rf.size == (int(last - first) + 1,) and rf.start == ((first + last) / 2,) and rf.jump == (2,)
    assert (first, last) == (-1.0, 1.0)  # main: pixels -1..1; pool: 0..1


def test_nested_paths_and_names() -> None:
    inner = Paths(([Layer(5, padding=2)], [Layer(1)]), name="inner")
    rf = receptive_field([Layer(3, padding=1, name="stem"), Paths(([inner, Layer(3, padding=1)], []), name="outer")])
    assert [r.name for r in rf] == ["stem", "outer"]
    assert rf[-1].size == (3 + 4 + 2,)


def test_paths_must_end_on_one_grid() -> None:
    with pytest.raises(ValueError, match="one grid"):
        receptive_field([Paths(([Layer(3, 2)], [Layer(1)]))])
    with pytest.raises(TypeError, match="Linear"):
        receptive_field([Paths(([nn.Linear(2, 2)], []))])


class _Sum(nn.Module):
    """Two all-ones convolution paths whose outputs are added, with a paths() method."""

    def __init__(self, a: nn.Conv2d, b: nn.Conv2d) -> None:
        super().__init__()
        self.a, self.b = a, b

    def paths(self) -> list[list[nn.Module]]:
        return [[self.a], [self.b]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) + self.b(x)


@pytest.mark.parametrize(
    ("ka", "pa", "kb", "pb", "stride"), [(3, 1, 1, 0, 1), (5, 2, 3, 1, 2), (3, 1, 5, 2, 1), (4, 1, 2, 0, 2)]
)
def test_multipath_module_matches_gradient_extent(ka: int, pa: int, kb: int, pb: int, stride: int) -> None:
    a = nn.Conv2d(1, 1, ka, stride, pa, bias=False)
    b = nn.Conv2d(1, 1, kb, stride, pb, bias=False)
    nn.init.ones_(a.weight)
    nn.init.ones_(b.weight)
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, bias=False), _Sum(a, b))
    nn.init.ones_(model[0].weight)
    x = torch.ones(1, 1, 24, 24)
    with torch.no_grad():
        assert a(x).shape == b(x).shape  # the two paths end on one grid
    rf = receptive_field(model)[-1]
    unit = (4, 5)
    for (lo, hi), r, j, start, i in zip(_field(model, x, unit), rf.size, rf.jump, rf.start, unit):
        assert hi - lo + 1 == r
        assert (lo + hi) / 2 == start + i * j
