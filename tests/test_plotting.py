"""The plotting helpers added for readable figures: sequential maps, log scales, annotations."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from convlib.course.plotting import POSITIVE_CMAP, show_positive, show_signed


def test_show_positive_uses_a_sequential_scale_from_zero() -> None:
    im = show_positive(torch.tensor([[0.0, 1.0], [3.0, 2.0]]))
    assert im.get_clim() == (0.0, 3.0)
    assert im.get_cmap().name == POSITIVE_CMAP
    assert im.get_array()[0, 0] == 0.0
    plt.close("all")


def test_show_positive_log_scale_masks_zeros_and_spans_the_counts() -> None:
    counts = torch.tensor([[0.0, 1.0], [10.0, 1000.0]])
    im = show_positive(counts, log=True, colorbar=True)
    assert isinstance(im.norm, matplotlib.colors.LogNorm)
    assert (im.norm.vmin, im.norm.vmax) == (0.5, 1000.0)
    assert im.norm(1.0) > 0.05, "a count of 1 must not look like an empty cell"
    assert np.ma.is_masked(im.get_array()[0, 0]) and not np.ma.is_masked(im.get_array()[1, 1])
    assert len(im.axes.figure.axes) == 2, "the colour bar is a second axes"
    plt.close("all")


def test_annotations_write_every_value_in_the_requested_format() -> None:
    _, ax = plt.subplots()
    show_positive(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), ax=ax, annotate=True, fmt="d")
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "3", "4"]
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours["4"] == "white" and colours["1"] == "black", "dark cells get white text"
    _, ax = plt.subplots()
    show_signed(torch.tensor([[-0.125, 0.5]]), ax=ax, annotate=True, fmt=".2f")
    assert [t.get_text() for t in ax.texts] == ["-0.12", "0.50"]
    plt.close("all")


@pytest.mark.parametrize(
    ("x", "match"),
    [(torch.zeros(2, 2, 2), "2-D"), (torch.tensor([[-1.0, 1.0]]), "negative")],
)
def test_show_positive_rejects_bad_input(x: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        show_positive(x)
    plt.close("all")
