"""convlib.course.mnist1d: the regenerated canonical split, pinned, and the small training loop."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
import torch
from torch import nn

from convlib.course.mnist1d import CLASSES, LENGTH, TEST, TRAIN, accuracy, fit, load_mnist1d

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


# ---------------------------------------------------------------- fit and accuracy


def blobs(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two Gaussian blobs in 5 dimensions, 4 standard deviations apart: linearly separable."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 5, generator=g) + 4.0 * y[:, None].float()
    return x, y


def trained(seed: int, init: int = 0) -> tuple[nn.Module, list[float]]:
    torch.manual_seed(init)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    x, y = blobs()
    return model, fit(model, x, y, epochs=3, batch_size=32, lr=0.01, seed=seed)


def test_fit_learns_a_separable_problem() -> None:
    torch.manual_seed(0)
    model = nn.Linear(5, 2)
    x, y = blobs()
    losses = fit(model, x, y, epochs=30, batch_size=50, lr=0.05)
    assert len(losses) == 30 and losses[-1] < 0.1 * losses[0]
    assert accuracy(model, *blobs(seed=1)) > 0.95


def test_fit_is_deterministic_and_uses_its_own_generator() -> None:
    (a, loss_a), (b, loss_b) = trained(seed=0), trained(seed=0)
    assert loss_a == loss_b
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c, _ = trained(seed=1)  # same initial weights, another batch order
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    model = nn.Linear(5, 2)  # built first: its initialisation draws from the global generator
    torch.manual_seed(3)
    before = torch.rand(1)
    torch.manual_seed(3)
    fit(model, *blobs(), epochs=1, seed=0)
    assert torch.equal(torch.rand(1), before)  # shuffling did not draw from the global generator


def test_fit_is_independent_of_the_thread_count_and_restores_it() -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a, _ = trained(seed=0)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        b, _ = trained(seed=0)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_accuracy_counts_argmax_matches() -> None:
    logits = torch.tensor([[0.0, 1.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
    assert accuracy(nn.Identity(), logits, torch.tensor([1, 0, 0, 1])) == 0.5
    assert accuracy(nn.Identity(), logits, logits.argmax(1)) == 1.0


def test_accuracy_puts_the_model_in_eval_mode() -> None:
    model = nn.Sequential(nn.Dropout(0.9), nn.Identity())
    x = torch.eye(4)
    assert accuracy(model, x, torch.arange(4)) == 1.0  # dropout would zero most rows in training mode
    assert not model.training


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 1, "batch_size": 0}, ValueError, "batch_size"),
        ({"epochs": True}, ValueError, "epochs"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        fit(nn.Linear(5, 2), *blobs(), **kwargs)


def test_fit_and_accuracy_reject_bad_data() -> None:
    x, y = blobs()
    with pytest.raises(TypeError, match="y must be an int64"):
        fit(nn.Linear(5, 2), x, y.float(), epochs=1)
    with pytest.raises(TypeError, match="y must be an int64"):
        accuracy(nn.Linear(5, 2), x, y[:10])
    with pytest.raises(TypeError, match="x must be a floating"):
        accuracy(nn.Linear(5, 2), x.long(), y)


def test_fit_calls_after_epoch_and_trains_as_without_it() -> None:
    """The callback sees every epoch, may evaluate the model, and changes nothing about training."""
    x, y = torch.randn(40, 6, generator=torch.Generator().manual_seed(0)), torch.arange(40) % 3
    seen, modes = [], []

    def probe(epoch: int) -> None:
        seen.append(epoch)
        accuracy(watched, x, y)  # puts the model in eval mode
        modes.append(watched.training)

    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    torch.manual_seed(0)
    watched = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    losses = fit(plain, x, y, epochs=3, batch_size=8, seed=1)
    assert fit(watched, x, y, epochs=3, batch_size=8, seed=1, after_epoch=probe) == losses
    assert seen == [1, 2, 3] and modes == [False, False, False] and watched.training
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), watched.parameters()))
