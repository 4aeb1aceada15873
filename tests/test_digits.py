"""The offline digit loaders: shapes, dtypes, ranges, class balance, a fixed split, and shift()."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convlib.course.digits import Digits, load_mnist5k, load_small_digits, shift, stratified_split

LOADERS = {
    "mnist5k": (load_mnist5k, (28, 28), 4000, 1000),
    "small": (load_small_digits, (8, 8), 1497, 300),
}
# sum of the first 64 training/test images (float64) and their first labels, pinned when the split was fixed
CHECKSUMS = {
    "mnist5k": (6040.0079, [4, 3, 9, 9, 0, 9, 6, 5, 7, 7, 7, 9, 5, 6, 5, 4], 6485.8393),
    "small": (1248.9375, [3, 7, 0, 8, 3, 5, 7, 7, 1, 2, 2, 8, 1, 0, 3, 7], 1237.25),
}


@pytest.fixture(scope="module", params=sorted(LOADERS))
def loaded(request: pytest.FixtureRequest) -> tuple[str, Digits]:
    return request.param, LOADERS[request.param][0]()


def test_shapes_and_dtypes(loaded: tuple[str, Digits]) -> None:
    name, d = loaded
    _, size, n_train, n_test = LOADERS[name]
    assert d.x_train.shape == (n_train, 1, *size) and d.x_test.shape == (n_test, 1, *size)
    assert d.y_train.shape == (n_train,) and d.y_test.shape == (n_test,)
    assert d.x_train.dtype == d.x_test.dtype == torch.float32
    assert d.y_train.dtype == d.y_test.dtype == torch.int64
    assert d.image_size == size


def test_ranges_and_classes(loaded: tuple[str, Digits]) -> None:
    name, d = loaded
    for x in (d.x_train, d.x_test):
        assert x.min() == 0.0 and x.max() == 1.0  # scaled by the format's maximum, which occurs
    assert d.y_train.min() == 0 and d.y_train.max() == 9
    per_class = LOADERS[name][3] // 10
    assert torch.bincount(d.y_test, minlength=10).eq(per_class).all()  # stratified
    if name == "mnist5k":
        assert torch.bincount(d.y_train).eq(400).all()


def test_checksum_of_the_first_batch(loaded: tuple[str, Digits]) -> None:
    name, d = loaded
    train_sum, labels, test_sum = CHECKSUMS[name]
    assert round(d.x_train[:64].double().sum().item(), 4) == train_sum
    assert d.y_train[:16].tolist() == labels
    assert round(d.x_test[:64].double().sum().item(), 4) == test_sum


def test_split_ignores_and_keeps_global_random_state() -> None:
    torch.manual_seed(123)
    np.random.seed(123)  # noqa: NPY002 -- the legacy global generator must not matter
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = load_small_digits()
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    torch.manual_seed(7)
    np.random.seed(7)  # noqa: NPY002
    b = load_small_digits()
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)


def test_loaders_return_fresh_tensors() -> None:
    a = load_mnist5k()
    a.x_train.zero_()
    assert load_mnist5k().x_train.max() == 1.0


def test_stratified_split_partitions_the_indices() -> None:
    labels = np.repeat(np.arange(4), [5, 6, 7, 8])
    train, test = stratified_split(labels, test_per_class=2)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
    assert np.bincount(labels[test]).tolist() == [2, 2, 2, 2]
    again = stratified_split(labels, test_per_class=2)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    other = stratified_split(labels, test_per_class=2, seed=1)
    assert not np.array_equal(test, other[1])


@pytest.mark.parametrize("bad", [0, 5, 2.0])
def test_stratified_split_rejects_bad_test_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="test_per_class"):
        stratified_split(np.repeat(np.arange(2), 5), test_per_class=bad)  # type: ignore[arg-type]


def test_stratified_split_rejects_2d_labels() -> None:
    with pytest.raises(ValueError, match="labels"):
        stratified_split(np.zeros((2, 3), dtype=int), test_per_class=1)


@pytest.mark.parametrize(("dy", "dx"), [(0, 0), (2, 3), (-1, 4), (3, -2), (-5, -5), (8, 0), (0, -9)])
def test_shift_matches_padding_and_cropping(dy: int, dx: int) -> None:
    x = torch.rand(2, 1, 8, 8)
    padded = torch.nn.functional.pad(x, (9, 9, 9, 9))  # zeros all round, then crop the moved window
    expected = padded[..., 9 - dy : 17 - dy, 9 - dx : 17 - dx]
    assert torch.equal(shift(x, dy, dx), expected)


def test_shift_rejects_non_integers() -> None:
    with pytest.raises(TypeError, match="dy and dx"):
        shift(torch.zeros(1, 4, 4), 1.5, 0)  # type: ignore[arg-type]
