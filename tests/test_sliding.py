"""The 1-D sliding-window drawing: its numbers against numpy, and what it draws."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convlib.course.sliding import plot_sliding, sliding_steps

small_ints = st.lists(st.integers(-5, 5), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(x=small_ints, w=small_ints)
def test_steps_equal_numpy_correlate_and_convolve(x: list[int], w: list[int]) -> None:
    if len(w) > len(x):
        w, x = x, w  # keep the kernel no longer than the signal, without discarding the example
    assert [s.value for s in sliding_steps(x, w)] == np.correlate(x, w, mode="valid").tolist()
    assert [s.value for s in sliding_steps(x, w, flip=True)] == np.convolve(x, w, mode="valid").tolist()


def test_steps_name_the_covered_inputs_and_the_laid_weights() -> None:
    steps = sliding_steps([1, 2, 3, 4, 5, 6], [1, 2, 3])
    assert [s.inputs for s in steps] == [(0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5)]
    assert all(s.weights == (1.0, 2.0, 3.0) for s in steps)
    flipped = sliding_steps([1, 2, 3, 4, 5, 6], [1, 2, 3], flip=True)
    assert flipped[0].weights == (3.0, 2.0, 1.0) and flipped[0].value == 10.0  # 1*3 + 2*2 + 3*1


def test_plot_writes_every_product_and_sum() -> None:
    fig = plot_sliding([1, 2, 3, 4, 5, 6], [1, 2, 3], flip=True, outputs=[0, 3])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "output 0: 1·3 + 2·2 + 3·1 = 10" in texts and "output 3: 4·3 + 5·2 + 6·1 = 28" in texts
    assert len(fig.axes[0].patches) == 2 * (6 + 3)  # per row: six signal cells and three kernel cells
    assert "flipped" in fig.axes[0].get_title(loc="left")
    plt.close(fig)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sliding_steps([1, 2], [1, 2, 3]), "1 to len"),
        (lambda: sliding_steps([1, 2], []), "1 to len"),
        (lambda: plot_sliding([1, 2, 3], [1, 1], outputs=[2]), "within 0..1"),
        (lambda: plot_sliding([1, 2, 3], [1, 1], outputs=[]), "non-empty"),
    ],
)
def test_bad_arguments_are_named(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
    plt.close("all")
