"""convlib.course.mnist1d: the regenerated canonical split, pinned."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch

from convlib.course.mnist1d import CLASSES, LENGTH, TEST, TRAIN, load_mnist1d

# ---------------------------------------------------------------- the data


def test_shapes_dtypes_and_split() -> None:
    data = load_mnist1d()
    assert (TRAIN, TEST, LENGTH, CLASSES) == (4000, 1000, 40, 10)
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40)
    assert data.y_train.shape == (4000,) and data.y_test.shape == (1000,)
    assert data.x_train.dtype == data.x_test.dtype == data.templates.dtype == torch.float32
    assert data.y_train.dtype == data.y_test.dtype == torch.int64
    assert data.templates.shape == (10, 12)


def test_matches_the_package_generator() -> None:
    """The oracle: mnist1d's own make_dataset with its default (canonical) arguments."""
    from mnist1d.data import get_dataset_args, make_dataset

    reference = make_dataset(get_dataset_args())
    data = load_mnist1d()
    np.testing.assert_array_equal(data.x_train.numpy(), reference["x"].astype(np.float32))
    np.testing.assert_array_equal(data.x_test.numpy(), reference["x_test"].astype(np.float32))
    np.testing.assert_array_equal(data.y_train.numpy(), reference["y"])
    np.testing.assert_array_equal(data.y_test.numpy(), reference["y_test"])


def test_first_batch_checksum() -> None:
    """Pins the generator with the pinned NumPy/SciPy: a change of version or recipe shows up here."""
    data = load_mnist1d()
    digest = hashlib.sha256(data.x_train[:100].numpy().tobytes()).hexdigest()
    assert digest == "d4010148fbeed6530f6298623f34164da732d3c882034f195aaa43cdc413a7ad"
    assert data.y_train[:20].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1, 6, 9, 4, 3, 4, 5, 1, 9, 0, 3]


def test_classes_are_balanced() -> None:
    data = load_mnist1d()
    train, test = torch.bincount(data.y_train, minlength=10), torch.bincount(data.y_test, minlength=10)
    assert (train + test).tolist() == [500] * 10  # 500 signals per digit, then shuffled and split
    assert train.tolist() == [398, 396, 411, 394, 394, 402, 401, 404, 402, 398]
    assert int(train.min()) >= 380 and int(train.max()) <= 420


def test_standardised_and_bounded() -> None:
    data = load_mnist1d()
    x = torch.cat([data.x_train, data.x_test]).double()
    assert abs(x.mean().item()) < 1e-6 and abs(x.std(correction=0).item() - 1) < 1e-6
    assert -6 < x.min().item() < -5 and 4 < x.max().item() < 5
    assert torch.isfinite(x).all()


def test_templates_start_at_zero_and_differ() -> None:
    t = load_mnist1d().templates
    assert torch.equal(t[:, 0], torch.zeros(10))  # the recipe shifts every template to start at 0
    assert torch.cdist(t, t).add(torch.eye(10)).min() > 0.1  # ten distinct digits


def test_loading_leaves_global_random_state_alone() -> None:
    np.random.seed(7)  # noqa: NPY002 -- the legacy global generator is what the package reseeds
    random.seed(7)
    expected_np, expected_py = np.random.rand(), random.random()  # noqa: NPY002
    np.random.seed(7)  # noqa: NPY002
    random.seed(7)
    load_mnist1d()
    assert (np.random.rand(), random.random()) == (expected_np, expected_py)  # noqa: NPY002


def test_each_call_returns_fresh_tensors() -> None:
    first = load_mnist1d()
    first.x_train.zero_()
    assert load_mnist1d().x_train.abs().sum() > 0
