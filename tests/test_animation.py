"""convlib.course.animation: frame geometry against torch's real (transposed) convolutions, figure, player.

The oracle is an *index image*: input cell ``(r, c)`` holds ``r * W + c + 1``. Convolving it with a
one-hot kernel (a single 1 at tap ``(a, b)``) writes, at every output cell, the index of the input cell
that tap reads there, or 0 where it reads padding. Each frame's ``reads`` must say exactly that.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import subprocess
import sys

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from playwright.sync_api import Browser

from convlib.course.animation import MAX_FRAMES, cell_kinds, frames, geometry, never_read, plot_frames
from convlib.course.player import animate
from convlib.shapes import conv_output_size, conv_transpose_output_size
from tests.browser import ANIMATIONS_ADVANCED, render
from tests.strategies import per_axis


def index_image(h: int, w: int) -> torch.Tensor:
    return torch.arange(1, h * w + 1, dtype=torch.float64).view(1, 1, h, w)  # (N, C, H, W), 0 means "no input"


def check_against_torch(transposed: bool, i, k, s, p, d, o=(0, 0)) -> None:  # type: ignore[no-untyped-def]
    """Every tap of every frame reads the input cell that torch's one-hot convolution reports."""
    g = geometry(i, k, s, p, d, transposed=transposed, output_padding=o)
    steps = frames(g)
    assert len(steps) == g.output_size[0] * g.output_size[1]
    assert [f.output for f in steps] == list(itertools.product(range(g.output_size[0]), range(g.output_size[1])))
    x = index_image(*i)
    for a, b in itertools.product(range(k[0]), range(k[1])):
        onehot = torch.zeros(1, 1, *k, dtype=torch.float64)
        onehot[0, 0, a, b] = 1.0
        if transposed:
            y = F.conv_transpose2d(x, onehot, stride=s, padding=p, output_padding=o, dilation=d)[0, 0]
        else:
            y = F.conv2d(x, onehot, stride=s, padding=p, dilation=d)[0, 0]
        assert tuple(y.shape) == g.output_size
        for f in steps:
            (read,) = [r for r, wgt in zip(f.reads, f.weights) if wgt == (a, b)]
            expected = 0 if read is None else read[0] * i[1] + read[1] + 1
            assert y[f.output].item() == expected, (g, f.output, (a, b))


def pair(x: int) -> tuple[int, int]:
    return (x, x)


GRID = [(i, k, s, p, d) for i, k, s, p, d in itertools.product((4, 5, 7), (1, 2, 3), (1, 2, 3), (0, 1, 2), (1, 2))
        if conv_output_size(i, k, s, p, d) >= 1]  # fmt: skip


@pytest.mark.parametrize(("i", "k", "s", "p", "d"), GRID)
def test_conv_frames_match_conv2d(i: int, k: int, s: int, p: int, d: int) -> None:
    check_against_torch(False, pair(i), pair(k), pair(s), pair(p), pair(d))


TRANSPOSED = [(i, k, s, p, d, o) for i, k, s, p, d, o in itertools.product((2, 3, 4), (1, 2, 3), (1, 2, 3), (0, 1, 2),
              (1, 2), (0, 1, 2)) if o < max(s, d) and conv_transpose_output_size(i, k, s, p, o, d) >= 1]  # fmt: skip


@pytest.mark.parametrize(("i", "k", "s", "p", "d", "o"), TRANSPOSED)
def test_conv_transpose_frames_match_conv_transpose2d(i: int, k: int, s: int, p: int, d: int, o: int) -> None:
    check_against_torch(True, pair(i), pair(k), pair(s), pair(p), pair(d), pair(o))


@given(i=per_axis(2, 3, 9), k=per_axis(2, 1, 4), s=per_axis(2, 1, 4), p=per_axis(2, 0, 3), d=per_axis(2, 1, 3),
       transposed=st.booleans())  # fmt: skip
def test_per_axis_parameters_match_torch(i, k, s, p, d, transposed) -> None:  # type: ignore[no-untyped-def]
    def size(i: int, k: int, s: int, p: int, d: int) -> int:
        return conv_transpose_output_size(i, k, s, p, 0, d) if transposed else conv_output_size(i, k, s, p, d)

    if any(size(*axis) < 1 for axis in zip(i, k, s, p, d)):
        with pytest.raises(ValueError, match="output size would be"):
            geometry(i, k, s, p, d, transposed=transposed)
    else:
        check_against_torch(transposed, i, k, s, p, d)


@pytest.mark.parametrize("transposed", [False, True])
def test_never_read_cells_get_no_gradient(transposed: bool) -> None:
    """An input cell gets a gradient from the summed output exactly when some tap reads it."""
    i, k, s, p, d = (9, 8), (3, 2), (3, 2), (1, 0), (2, 1)
    g = geometry(i, k, s, p, d, transposed=transposed)
    x = torch.rand(1, 1, *i, dtype=torch.float64, requires_grad=True)
    op = F.conv_transpose2d if transposed else F.conv2d
    op(x, torch.ones(1, 1, *k, dtype=torch.float64), stride=s, padding=p, dilation=d).sum().backward()
    assert x.grad is not None
    unread = sorted(map(tuple, (x.grad[0, 0] == 0).nonzero().tolist()))
    assert never_read(g) == unread
    assert transposed or unread, "this direct case must floor and skip cells"


def test_cell_kinds() -> None:
    kinds = cell_kinds(geometry(6, 3, stride=3, padding=1))  # canvas 8x8; 2x2 outputs read 0..5, not input 5
    assert kinds[0] == kinds[7] == "pppppppp" and kinds[1] == "piiiiiup" and kinds[6] == "puuuuuup"
    spread = cell_kinds(geometry(3, 3, stride=2, transposed=True))  # offset 2, input at 2, 4, 6
    assert spread[2] == "ppizizipp" and spread[3] == "ppzzzzzpp" and len(spread) == 9
    assert sum(row.count("i") for row in spread) == 9


def test_transposed_kernel_is_flipped() -> None:
    f = frames(geometry(2, 3, transposed=True))[0]
    assert f.taps[0] == (0, 0) and f.weights[0] == (2, 2) and f.weights[-1] == (0, 0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"input_size": 0}, "input_size"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"stride": (1, 0)}, "stride"),
        ({"padding": -1}, "padding"),
        ({"dilation": 0}, "dilation"),
        ({"kernel_size": 9}, "kernel_size"),  # does not fit the 5x5 input
        ({"output_padding": 1}, "output_padding"),  # only for transposed=True
        ({"transposed": True, "stride": 2, "output_padding": 2}, "output_padding"),
        ({"transposed": True, "padding": 5}, "padding"),  # output (5-1) - 10 + 2 + 1 < 1
    ],
)
def test_invalid_arguments_name_the_argument(kwargs: dict, name: str) -> None:
    args = {"input_size": 5, "kernel_size": 3} | kwargs
    with pytest.raises(ValueError, match=name):
        geometry(**args)


def test_plot_frames_draws_the_kernel() -> None:
    g = geometry(6, 3, stride=2, padding=1, dilation=2)
    fig = plot_frames(g, steps=[0, 3])
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "step 4 of 4: output (1, 1)"
    taps = [a for a in fig.axes[1].patches if a.get_alpha() is not None]  # the see-through kernel cells
    assert len(taps) == 9
    plt.close(fig)
    with pytest.raises(ValueError, match="steps"):
        plot_frames(g, steps=[4])


def test_input_name_renames_the_canvas_cells() -> None:
    g = geometry(3, 3, stride=2, padding=1, transposed=True)  # an input gradient reads the upstream gradient
    fig = plot_frames(g, steps=[0], input_name="upstream gradient")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "upstream gradient" in legend and "input" not in legend
    assert "spread + padded upstream gradient" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    html = animate(g, input_name="upstream gradient").html
    assert "spread + padded upstream gradient" in html and "></span> upstream gradient &nbsp;" in html
    assert animate(g, input_name="input").html == animate(g).html  # the default is unchanged


def test_animation_is_deterministic_small_and_offline() -> None:
    g = geometry(7, 3, stride=2, padding=1)
    html = animate(g).html
    assert html == animate(g).html
    assert "http" not in html and "src=" not in html
    assert len(html.encode()) < 30_000
    assert animate(geometry(7, 3, stride=2, padding=2)).html != html
    uid = re.search(r'data-convlib-anim="([0-9a-f]{12})"', html)
    assert uid and html.count(uid.group(1)) == 2
    # another interpreter, with another hash seed, writes the same bytes
    code = (
        "import hashlib; from convlib.course.animation import geometry; from convlib.course.player import animate; "
        "print(hashlib.sha256(animate(geometry(7, 3, stride=2, padding=1)).html.encode()).hexdigest())"
    )
    env = {"PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == hashlib.sha256(html.encode()).hexdigest()


def test_animation_repr_and_limits() -> None:
    anim = animate(geometry(12, 3, padding=1))  # 144 frames
    assert anim._repr_html_() == anim.html and len(anim.html.encode()) < 30_000
    assert repr(anim).startswith("Animation(conv: input 12×12, kernel 3×3, stride 1, padding 1, dilation 1")
    assert repr(anim).endswith(f"144 frames, {len(anim.html.encode())} bytes)")
    with pytest.raises(ValueError, match="MAX_FRAMES"):
        animate(geometry(MAX_FRAMES, 1))
    with pytest.raises(ValueError, match="interval_ms"):
        animate(geometry(3, 3), interval_ms=0)


def test_player_runs_in_a_browser_without_network(browser: Browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Headless Chromium, offline: each player (one of them shown twice) starts and advances."""
    conv, tconv = animate(geometry(5, 3, padding=1)), animate(geometry(3, 3, stride=2, transposed=True))
    page = tmp_path / "anim.html"
    page.write_text(
        f'<!doctype html><meta charset="utf-8"><body>{conv.html}{tconv.html}{conv.html}</body>', encoding="utf-8"
    )
    shown = render(browser, page, ANIMATIONS_ADVANCED)
    assert not shown.blocked, shown.blocked
    dom = shown.dom
    players = re.findall(r'<div id="convlib-anim-[^>]*>', dom)
    assert len(players) == 3
    for tag in players:
        assert 'data-ready="1"' in tag
        frame = re.search(r'data-frame="(\d+)"', tag)
        assert frame and int(frame.group(1)) >= 2, f"the animation did not advance: {tag}"
    assert dom.count(">pause</button>") == 3  # playing
    assert re.search(r"<span>step ([3-9]|\d\d) / 25</span>", dom)
