"""convlib.course.canvas: shapes, labels that are exactly the ink, class balance, the split, a pinned checksum."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convlib.course.canvas import BACKGROUND, CLASSES, Canvases, checksum, make_canvases, resize_nearest
from convlib.course.digits import Digits, load_mnist5k

# make_canvases() with its defaults, pinned when the generator was written; the bytes are integer
# arithmetic on 8-bit pixels, so every CPU must give them (checked under the forced-CPU variables too)
DEFAULT_CHECKSUM = "68c68e029768ecdb"


@pytest.fixture(scope="module")
def canvases() -> Canvases:
    return make_canvases()


def test_shapes_and_dtypes(canvases: Canvases) -> None:
    assert canvases.x_train.shape == (1000, 1, 32, 32) and canvases.x_test.shape == (300, 1, 32, 32)
    assert canvases.y_train.shape == (1000, 32, 32) and canvases.y_test.shape == (300, 32, 32)
    assert canvases.digits_train.shape == (1000, 3, 4) and canvases.digits_test.shape == (300, 3, 4)
    assert canvases.x_train.dtype == torch.get_default_dtype() and canvases.y_train.dtype == torch.int64
    assert canvases.image_size == (32, 32)
    for x in (canvases.x_train, canvases.x_test):
        assert x.min() == 0.0 and x.max() == 1.0


def test_checksum_is_pinned(canvases: Canvases) -> None:
    assert checksum(canvases) == DEFAULT_CHECKSUM


def test_labels_are_exactly_the_ink(canvases: Canvases) -> None:
    for x, y in ((canvases.x_train, canvases.y_train), (canvases.x_test, canvases.y_test)):
        assert torch.equal(y > BACKGROUND, x[:, 0] > 0.5)  # the default threshold, no other pixel
        assert int(y.min()) == 0 and int(y.max()) == CLASSES - 1


def test_every_placed_digit_is_labelled_in_its_box(canvases: Canvases) -> None:
    for y, placed in ((canvases.y_train, canvases.digits_train), (canvases.y_test, canvases.digits_test)):
        counts = torch.zeros(len(y), CLASSES, dtype=torch.int64)
        for n, rows in enumerate(placed.tolist()):
            for cls, top, left, side in rows:
                if cls < 0:
                    continue
                box = y[n, top : top + side, left : left + side]
                assert (box == cls + 1).sum() > 0  # its ink is there, under its label
                assert 14 <= side <= 20 and 0 <= top <= 32 - side and 0 <= left <= 32 - side
                counts[n, cls + 1] += 1
        # a label occurs on a canvas only if a digit of that class was placed there
        present = torch.stack([torch.bincount(row.flatten(), minlength=CLASSES) for row in y]) > 0
        assert torch.equal(present[:, 1:], counts[:, 1:] > 0)


def test_class_balance(canvases: Canvases) -> None:
    placed = canvases.digits_train
    per_canvas = (placed[:, :, 0] >= 0).sum(1)
    assert per_canvas.min() >= 1 and per_canvas.max() <= 3
    assert (per_canvas == 1).sum() < 10  # a digit is left out only when 20 placements all hit ink
    assert 0.4 < (per_canvas == 3).double().mean() < 0.6  # two or three digits, drawn uniformly
    classes = torch.bincount(placed[:, :, 0][placed[:, :, 0] >= 0], minlength=10)
    expected = classes.sum() / 10
    assert ((classes - expected).abs() < 0.3 * expected).all(), classes  # each digit about a tenth
    pixels = torch.bincount(canvases.y_train.flatten(), minlength=CLASSES).double() / canvases.y_train.numel()
    assert 0.88 < pixels[BACKGROUND] < 0.94  # ink is under a tenth of the pixels
    assert (pixels[1:] > 0.1 * (1 - pixels[BACKGROUND]) / 10).all()  # every digit class has ink


def test_train_canvases_use_only_training_digits() -> None:
    full = load_mnist5k()
    low, high = full.y_train < 5, full.y_test >= 5  # train digits 0-4 only, test digits 5-9 only
    split = Digits(full.x_train[low], full.y_train[low], full.x_test[high], full.y_test[high])
    c = make_canvases(100, 50, size=40, digit_sizes=(14, 20), digits=split)
    assert set(c.y_train.unique().tolist()) == {0, 1, 2, 3, 4, 5}
    assert set(c.y_test.unique().tolist()) == {0, 6, 7, 8, 9, 10}


def test_deterministic_private_and_seeded() -> None:
    torch.manual_seed(1)
    np.random.seed(1)  # noqa: NPY002 -- the global generators must neither matter nor move
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    a = make_canvases(20, 10, size=32, digit_sizes=(12, 20))
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    torch.manual_seed(2)
    b = make_canvases(20, 10, size=32, digit_sizes=(12, 20))
    assert checksum(a) == checksum(b) and torch.equal(a.digits_test, b.digits_test)
    c = make_canvases(20, 10, size=32, digit_sizes=(12, 20), seed=1)
    assert checksum(c) != checksum(a)


def test_same_bytes_in_float32_and_float64() -> None:
    before = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        wide = make_canvases(30, 10, size=32)
    finally:
        torch.set_default_dtype(before)
    narrow = make_canvases(30, 10, size=32)
    assert wide.x_train.dtype == torch.float64 and checksum(wide) == checksum(narrow)


@pytest.mark.parametrize("side", [1, 7, 14, 20, 28, 40, 56])
def test_resize_nearest_matches_torch_nearest_exact(side: int) -> None:
    image = np.arange(28 * 28, dtype=np.int64).reshape(28, 28)
    expected = F.interpolate(torch.from_numpy(image)[None, None].double(), size=side, mode="nearest-exact")
    assert np.array_equal(resize_nearest(image, side), expected[0, 0].long().numpy())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_train": -1}, "n_train"),
        ({"size": 0}, "size"),
        ({"digit_sizes": (20, 14)}, "digit_sizes"),
        ({"digit_sizes": (14, 40)}, "digit_sizes"),
        ({"per_canvas": (2, 1)}, "per_canvas"),
        ({"threshold": 1.0}, "threshold"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_canvases(**kwargs)


def test_resize_nearest_rejects_non_square() -> None:
    with pytest.raises(ValueError, match="square"):
        resize_nearest(np.zeros((3, 4)), 2)
