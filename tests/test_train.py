"""The training loop and the Part III models: determinism, agreement with torch.nn, and the metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix
from torch import nn

from convlib.course.digits import Digits, random_shifts, shift, validation_split
from convlib.course.models import global_pool_cnn, lenet, mlp
from convlib.course.train import (
    HEADER,
    EpochStats,
    History,
    accuracy,
    confusion_matrix,
    evaluate,
    predict,
    train,
)


def toy_digits(n_train: int = 96, n_test: int = 32, size: int = 28) -> Digits:
    """Random images whose class is the brightest quadrant, so a small model can learn it quickly."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n_train + n_test, 1, size, size, generator=g) * 0.5
    y = torch.randint(0, 4, (n_train + n_test,), generator=g)
    half = size // 2
    for i, c in enumerate(y.tolist()):
        r, col = divmod(c, 2)
        x[i, 0, r * half : (r + 1) * half, col * half : (col + 1) * half] += 0.5
    return Digits(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def test_train_is_deterministic_and_learns() -> None:
    data = toy_digits()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = mlp(hidden=16, classes=4)
        history = train(model, data, epochs=3, lr=0.1, batch_size=16, seed=0, log=None)
        runs.append((model.state_dict(), history))
    (w1, h1), (w2, h2) = runs
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert h1.epochs == h2.epochs
    assert h1.epochs[-1].train_loss < h1.epochs[0].train_loss
    assert h1.test_accuracy > 0.9


def test_shuffling_depends_on_seed_not_global_state() -> None:
    data = toy_digits()
    weights = []
    for shuffle_seed, global_seed in ((0, 1), (0, 2), (1, 1)):
        torch.manual_seed(0)
        model = mlp(hidden=8, classes=4)
        torch.manual_seed(global_seed)  # must not change the batches
        train(model, data, epochs=1, lr=0.1, batch_size=16, seed=shuffle_seed, log=None)
        weights.append(model.fc1.weight.detach().clone())
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_convlib_lenet_trains_like_torch_lenet() -> None:
    data = toy_digits(n_train=48, n_test=8)
    torch.manual_seed(0)
    ours = lenet(classes=4)
    torch.manual_seed(0)
    reference = lenet(nn.Conv2d, nn.MaxPool2d, classes=4)
    assert isinstance(ours.conv1, nn.Conv2d) and type(ours.conv1) is not nn.Conv2d  # convlib's subclass
    h1 = train(ours, data, epochs=1, lr=0.05, batch_size=16, seed=3, log=None)
    h2 = train(reference, data, epochs=1, lr=0.05, batch_size=16, seed=3, log=None)
    for (k, a), b in zip(ours.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=k)
    assert h1.epochs[0].train_loss == pytest.approx(h2.epochs[0].train_loss, abs=1e-5)


def test_train_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    history = train(mlp(hidden=4, classes=4), toy_digits(), epochs=2, lr=0.1, batch_size=32, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == HEADER and len(lines) == 3
    assert lines == history.table().splitlines()
    assert "/96" in lines[1] and "/32" in lines[1]


def blobs(n: int = 200, seed: int = 0) -> Digits:
    """Two Gaussian blobs in 5 dimensions, 4 standard deviations apart (linearly separable), as a split."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 5, generator=g) + 4.0 * y[:, None].float()
    return Digits(x[: n // 2], y[: n // 2], x[n // 2 :], y[n // 2 :])


def test_adam_learns_vectors_and_reports_losses_per_epoch() -> None:
    torch.manual_seed(0)
    model = nn.Linear(5, 2)
    seen: list[int] = []
    history = train(
        model, blobs(), epochs=30, lr=0.05, batch_size=50, seed=0, optimizer="adam", after_epoch=seen.append, log=None
    )
    assert seen == list(range(1, 31)) and len(history.train_losses) == len(history.test_losses) == 30
    assert history.train_losses[-1] < 0.1 * history.train_losses[0]
    assert accuracy(model, blobs(seed=1).x_test, blobs(seed=1).y_test) > 0.95


def test_training_is_independent_of_the_thread_count_and_restores_it() -> None:
    weights = []
    threads = torch.get_num_threads()
    try:
        for n in (2, 1):
            torch.set_num_threads(n)
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
            train(model, blobs(), epochs=3, lr=0.01, batch_size=32, seed=0, optimizer="adam", log=None)
            assert torch.get_num_threads() == n
            weights.append(model.state_dict())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_per_pixel_labels_are_counted_per_pixel() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 1, 6, 6, generator=g)
    y = (x[:, 0] > 0.5).long()  # (N, H, W): a pixel's class is whether it is bright
    data = Digits(x[:8], y[:8], x[8:], y[8:])
    torch.manual_seed(0)
    model = nn.Conv2d(1, 2, 1)
    history = train(model, data, epochs=40, lr=0.5, batch_size=4, seed=0, log=None)
    assert (history.n_train, history.n_test) == (8 * 36, 4 * 36)
    assert history.epochs[-1].test_correct == round(accuracy(model, data.x_test, data.y_test) * 4 * 36)
    assert history.test_accuracy > 0.95  # a 1x1 convolution can threshold a pixel


def test_augmentation_draws_from_the_loop_generator() -> None:
    data = toy_digits()
    weights, seen = [], []

    def spy(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        seen.append(images.shape[0])
        return random_shifts(2)(images, generator)

    for _ in range(2):
        torch.manual_seed(0)
        model = mlp(hidden=8, classes=4)
        train(model, data, epochs=1, lr=0.1, batch_size=16, seed=0, augment=spy, log=None)
        weights.append(model.fc1.weight.detach().clone())
    assert torch.equal(weights[0], weights[1]) and sum(seen) == 2 * 96  # every training image, deterministically
    torch.manual_seed(0)
    plain = mlp(hidden=8, classes=4)
    train(plain, data, epochs=1, lr=0.1, batch_size=16, seed=0, log=None)
    assert not torch.equal(plain.fc1.weight, weights[0])


def test_random_shifts_moves_each_image_by_a_whole_shift() -> None:
    images = torch.rand(20, 1, 9, 9, generator=torch.Generator().manual_seed(1))
    out = random_shifts(3)(images, torch.Generator().manual_seed(0))
    for image, moved in zip(images, out, strict=True):
        assert any(torch.equal(moved, shift(image, dy, dx)) for dy in range(-3, 4) for dx in range(-3, 4))
    assert torch.equal(random_shifts(0)(images, torch.Generator()), images)
    with pytest.raises(ValueError, match="max_shift"):
        random_shifts(-1)


def test_validation_split_is_stratified_and_leaves_the_test_set_out() -> None:
    data = toy_digits()
    held = validation_split(data, per_class=3)
    assert len(held.y_train) + len(held.y_test) == 96 and torch.bincount(held.y_test).tolist() == [3] * 4
    rows = {tuple(r.flatten().tolist()) for r in data.x_train}
    assert all(tuple(r.flatten().tolist()) in rows for r in held.x_test)  # drawn from training images only
    assert torch.equal(validation_split(data, per_class=3).x_test, held.x_test)  # fixed by the seed


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"epochs": 1.5}, "epochs"),
        ({"optimizer": "rmsprop"}, "optimizer"),
    ],
)
def test_train_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"epochs": 1, "lr": 0.1, "batch_size": 8, "seed": 0, "log": None} | kwargs
    with pytest.raises(ValueError, match=match):
        train(mlp(hidden=4, classes=4), toy_digits(), **args)


def test_evaluate_and_predict_against_a_direct_forward() -> None:
    data = toy_digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 4), nn.Dropout(0.5))  # eval mode must switch dropout off
    model.train()
    loss, correct = evaluate(model, data.x_test, data.y_test, batch_size=5)
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        logits = model(data.x_test)
    torch.testing.assert_close(predict(model, data.x_test, batch_size=7), logits)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, data.y_test).item(), rel=1e-6)
    assert correct == int((logits.argmax(1) == data.y_test).sum())


def test_confusion_matrix_against_sklearn() -> None:
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    ours = confusion_matrix(torch.from_numpy(y_true), torch.from_numpy(y_pred))
    assert ours.tolist() == sklearn_confusion_matrix(y_true, y_pred, labels=range(10)).tolist()


def test_confusion_matrix_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="y_true and y_pred"):
        confusion_matrix(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long))


def test_history_accuracy_and_rows() -> None:
    h = History(n_train=4000, n_test=1000, epochs=[EpochStats(1, 0.12345, 3900, 0.2, 987)])
    assert h.test_accuracy == 0.987
    assert h.row(h.epochs[0]).split() == ["1", "0.123", "3900/4000", "0.200", "987/1000"]


def test_model_shapes_and_sizes() -> None:
    x = torch.zeros(3, 1, 28, 28)
    for model in (lenet(), lenet(nn.Conv2d, nn.MaxPool2d), mlp(), global_pool_cnn()):
        assert model(x).shape == (3, 10)
    n_lenet = sum(p.numel() for p in lenet().parameters())
    n_mlp = sum(p.numel() for p in mlp().parameters())
    assert n_lenet == 61706 and abs(n_lenet - n_mlp) < 0.01 * n_lenet


def test_global_pool_cnn_ignores_shifts_by_its_total_stride() -> None:
    torch.manual_seed(0)
    model = global_pool_cnn(16)
    x = torch.zeros(2, 1, 128, 128)
    # far enough from the border that no unit whose 32-pixel field sees the digit sees the padding
    x[:, :, 58:70, 58:70] = torch.rand(2, 1, 12, 12)
    with torch.no_grad():
        for dy, dx in ((4, 0), (0, -8), (4, 4)):  # multiples of the two 2x2 pools' stride 4
            torch.testing.assert_close(model(shift(x, dy, dx)), model(x))
        assert not torch.allclose(model(shift(x, 0, 1)), model(x))  # an odd shift changes the max-pool grid
