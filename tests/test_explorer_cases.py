"""convlib.course.explorer: the golden cases of the explorer page, against torch's own convolutions.

The browser test (tests/test_explorer.py) checks the page against these cases; this test checks the
cases themselves: every size is the shape torch returns, every error is a call that torch refuses.
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from convlib.course.animation import COLORS
from convlib.course.explorer import GRID, explorer_geometry, golden_case, golden_cases
from convlib.course.player import DARK_COLORS
from tests.helpers import ROOT

CASES = golden_cases()


def params(fragment: str) -> dict[str, str]:
    return dict(pair.split("=") for pair in fragment.split("&"))


def torch_output(op: str, dim: int, i: int, k: int, s: int, p: int, d: int, o: int) -> tuple[int, ...]:
    """The spatial output shape torch computes; raises RuntimeError where torch refuses the call."""
    x = torch.zeros(1, 1, *([i] * dim))  # (N, C, L) or (N, C, H, W)
    w = torch.zeros(1, 1, *([k] * dim))  # (C_out, C_in, k...) and for transposed (C_in, C_out, k...)
    if op == "transpose":
        fn = F.conv_transpose1d if dim == 1 else F.conv_transpose2d
        return tuple(fn(x, w, stride=s, padding=p, output_padding=o, dilation=d).shape[2:])
    fn = F.conv1d if dim == 1 else F.conv2d
    return tuple(fn(x, w, stride=s, padding=p, dilation=d).shape[2:])


def test_the_grid_covers_every_outcome() -> None:
    errors = {c.error for c in CASES}
    assert errors == {"", "fit", "output_padding"}
    assert {params(c.fragment)["dim"] for c in CASES} == {"1", "2"}
    assert len({c.fragment for c in CASES}) == len(CASES), "fragments are unique"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fragment)
def test_golden_case_matches_torch(case) -> None:  # type: ignore[no-untyped-def]
    q = params(case.fragment)
    args = [int(q[key]) for key in ("dim", "i", "k", "s", "p", "d")] + [int(q.get("op_pad", 0))]
    if case.error == "output_padding":
        with pytest.raises(RuntimeError, match="output padding must be smaller"):
            torch_output(q["op"], *args)
    elif case.error == "fit":  # torch refuses, except a 2-D transposed convolution with output size exactly 0
        try:
            shape: tuple[int, ...] | None = torch_output(q["op"], *args)
        except RuntimeError:
            shape = None
        assert shape is None or 0 in shape, shape
    if case.error:
        assert case.output_size == "none" and case.taps == ()
        return
    out = torch_output(q["op"], *args)
    assert case.output_size == "x".join(map(str, out))
    n_out, n_taps = out[0] * (out[-1] if len(out) == 2 else 1), int(q["k"]) ** args[0]
    assert len(case.taps) == n_out and all(len(t) == n_taps for t in case.taps)
    rows = case.kinds.split("/")
    width = len(rows[0])
    assert case.canvas_size == (str(width) if args[0] == 1 else f"{len(rows)}x{width}")
    assert all(rows[t // width][t % width] != "u" for taps in case.taps for t in taps), "a tap on an unread cell"


def test_one_dimensional_taps_are_positions() -> None:
    case = golden_case("conv", 1, 7, 3, 2, 1, 2)  # canvas 0..8, taps 0, 2, 4 then 2, 4, 6 then 4, 6, 8
    assert case.taps == ((0, 2, 4), (2, 4, 6), (4, 6, 8))
    assert case.kinds == "puiuiuiup" and case.output_size == "3"  # dilation 2 skips every odd position


def test_transposed_case_spreads_the_input() -> None:
    case = golden_case("transpose", 1, 3, 3, 2, 0, 1, 1)  # (3-1)*2 + 2 + 1 + 1 = 8 outputs
    assert case.output_size == "8"
    assert case.kinds == "ppizizippp"  # offset d(k-1) - p = 2; spacing 2; output_padding adds one at the end


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"op": "pool"}, "op must be"), ({"dim": 3}, "dim must be"), ({"k": 0}, "kernel_size")],
)
def test_bad_arguments_name_them(kwargs: dict, message: str) -> None:
    args = {"op": "conv", "dim": 2, "i": 5, "k": 3, "s": 1, "p": 0, "d": 1, "op_pad": 0} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        explorer_geometry(**args)
    with pytest.raises(ValueError, match="misses the keys"):
        golden_cases({key: GRID[key] for key in list(GRID)[:-1]})


def css_palette(css: str, selector: str) -> dict[str, str]:
    block = css[css.index(selector) :]
    block = block[: block.index("}")]
    return dict(re.findall(r"--cx-([a-z]+):\s*(#[0-9a-f]{6})", block))


def test_the_explorer_uses_the_course_palettes() -> None:
    """The explorer page draws in the figure's colours, and on a dark page in the player's dark ones."""
    css = (ROOT / "explorer" / "explorer.html").read_text(encoding="utf-8")
    light, dark = css_palette(css, ".cx {"), css_palette(css, 'html[data-theme="dark"] .cx {')
    assert {k: light[k] for k in COLORS} == COLORS
    assert dark == DARK_COLORS | {"err": dark["err"]}
