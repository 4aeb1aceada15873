"""The notebook-facing helpers: offline images, device names, setup() and the plotting helpers."""

from __future__ import annotations

import random

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from convlib.course.data import IMAGES, load_image
from convlib.course.device import get_device
from convlib.course.notebook import figure_png, setup
from convlib.course.plotting import show_grid, show_image, show_signed


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_every_bundled_image_loads_as_chw_in_unit_range(name: str) -> None:
    img = load_image(name)
    assert img.dtype == torch.float32
    assert img.ndim == 3 and img.shape[0] in (1, 3)
    assert img.min() >= 0.0 and img.max() <= 1.0
    assert img.max() > 0.5  # not an all-black image from a wrong scaling


def test_resize_crops_square_then_resizes_and_gray_uses_luminance() -> None:
    rgb = load_image("chelsea", size=64)
    assert rgb.shape == (3, 64, 64)
    assert load_image("chelsea", size=(32, 48)).shape == (3, 32, 48)
    gray = load_image("chelsea", gray=True)
    expected = (load_image("chelsea") * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    assert torch.allclose(gray, expected)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "lena"}, ValueError, "name must be one of"),
        ({"name": "camera", "size": 0}, ValueError, "size must be positive"),
        ({"name": "camera", "size": (0, 4)}, ValueError, "size must be positive"),
        ({"name": "camera", "size": 2.5}, TypeError, "size must be None, an int or a pair"),
        ({"name": "camera", "size": (1, 2, 3)}, TypeError, "size must be None, an int or a pair"),
        ({"name": "camera", "size": True}, TypeError, "size must be None, an int or a pair"),
    ],
)
def test_load_image_rejects_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        load_image(**kwargs)


def test_get_device() -> None:
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="name must be one of"):
        get_device("tpu")
    with pytest.raises(TypeError, match="name must be a str"):
        get_device(0)  # type: ignore[arg-type]
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            get_device("cuda")


def test_setup_seeds_every_generator_and_sets_the_style() -> None:
    setup(3)
    first = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002 -- the global generator is the point
    setup(3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first  # noqa: NPY002
    assert torch.are_deterministic_algorithms_enabled()
    assert plt.rcParams["image.interpolation"] == "nearest"
    with pytest.raises(TypeError, match="seed must be an int"):
        setup("0")  # type: ignore[arg-type]


def test_figure_png_is_deterministic_palette_png() -> None:
    def draw() -> Figure:
        fig = Figure(figsize=(2, 2))
        fig.add_subplot().imshow(np.arange(64.0).reshape(8, 8), cmap="RdBu_r")
        return fig

    first = figure_png(draw())
    assert first == figure_png(draw())
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"PLTE" in first[:100]  # a palette image, a third the size of RGBA


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: show_image(torch.zeros(2, 4, 4)), "1 or 3 channels"),
        (lambda: show_image(torch.zeros(4)), r"\(C, H, W\) or \(H, W\)"),
        (lambda: show_signed(torch.zeros(1, 4, 4)), "2-D"),
        (lambda: show_grid([]), "must not be empty"),
        (lambda: show_grid(torch.zeros(2, 3, 3), titles=["a"]), "one entry per map"),
    ],
)
def test_plotting_rejects_bad_shapes(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
    plt.close("all")
