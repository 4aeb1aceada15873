"""The course's one training loop, for every classifier of Parts III and IV.

:func:`train` runs mini-batch SGD with momentum (or Adam) on the cross-entropy, shuffling with its
own ``torch.Generator`` so that the order of the batches, and any random augmentation, depend on
``seed`` alone, and records one :class:`EpochStats` row per epoch. It prints that row as a line of a
short table (no progress bar), with losses rounded to 3 decimals and accuracies as counts of correct
predictions, so that stored outputs do not depend on the last bits of a floating-point sum.
:func:`train_epoch` is one pass over the training set, the loop the chapters show.
:func:`evaluate`, :func:`accuracy`, :func:`predict` and :func:`confusion_matrix` measure a trained
model. The model's initial weights are the caller's: seed before building it.

Any data set with ``x_train``, ``y_train``, ``x_test`` and ``y_test`` tensors will do (a
:class:`Split`): images, sequences, or per-pixel labels, where the cross-entropy and the counts are
taken over every labelled pixel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import nn

HEADER = f"{'epoch':>5} {'train loss':>10} {'train correct':>15} {'test loss':>9} {'test correct':>13}"


class Split(Protocol):
    """A training set and a test (or validation) set, as :func:`train` reads them.

    ``convlib.course.digits.Digits`` and ``convlib.course.mnist1d.MNIST1D`` are splits.
    """

    @property
    def x_train(self) -> torch.Tensor:
        """Training inputs, (N, ...)."""

    @property
    def y_train(self) -> torch.Tensor:
        """Training labels (int64), ``(N,)`` for classes or ``(N, H, W)`` for per-pixel classes."""

    @property
    def x_test(self) -> torch.Tensor:
        """Test inputs, (M, ...)."""

    @property
    def y_test(self) -> torch.Tensor:
        """Test labels, int64, shaped like ``y_train``."""


#: Called on each training batch with the loop's generator; returns the batch to train on.
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class EpochStats:
    """What one epoch of :func:`train` measured.

    Attributes:
        epoch: 1 for the first epoch.
        train_loss: mean cross-entropy of the epoch's batches, each taken before its SGD step.
        train_correct: training labels predicted correctly, each counted before its SGD step.
        test_loss: mean cross-entropy on the test set after the epoch.
        test_correct: test labels predicted correctly after the epoch.
    """

    epoch: int
    train_loss: float
    train_correct: int
    test_loss: float
    test_correct: int


@dataclass
class History:
    """The per-epoch record of one :func:`train` run.

    >>> h = History(n_train=10, n_test=4, epochs=[EpochStats(1, 0.5, 7, 0.25, 3)])
    >>> h.test_accuracy
    0.75
    """

    n_train: int
    n_test: int
    epochs: list[EpochStats] = field(default_factory=list)

    @property
    def test_accuracy(self) -> float:
        """Test accuracy after the last epoch."""
        return self.epochs[-1].test_correct / self.n_test

    @property
    def train_losses(self) -> list[float]:
        """Mean training loss of each epoch."""
        return [s.train_loss for s in self.epochs]

    @property
    def test_losses(self) -> list[float]:
        """Test loss after each epoch."""
        return [s.test_loss for s in self.epochs]

    def row(self, stats: EpochStats) -> str:
        """One table line: losses to 3 decimals, accuracies as counts (stable across thread counts)."""
        return (
            f"{stats.epoch:>5} {stats.train_loss:>10.3f} {stats.train_correct:>7}/{self.n_train:<7}"
            f" {stats.test_loss:>9.3f} {stats.test_correct:>6}/{self.n_test:<6}"
        )

    def table(self) -> str:
        """The whole run as the table that :func:`train` prints."""
        return "\n".join([HEADER, *(self.row(s) for s in self.epochs)])


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread, then restore the previous count.

    The course's models are tiny: a thread pool costs more than it saves. One thread also makes every
    sum run in one order, so training gives bit-identical weights whatever the machine's core count
    (the matrix products of a convolution may split their sums between threads).

    Returns:
        a context manager.

    Shapes:
        none.

    >>> before = torch.get_num_threads()
    >>> with one_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Logits of ``model`` in eval mode, computed batch by batch.

    Args:
        model: a classifier.
        x: inputs, shape (N, ...), on any device (batches move to the model's device).
        batch_size: inputs per forward pass.

    Returns:
        logits on the CPU, shape (N, classes).

    Shapes:
        (N, ...) -> (N, classes)

    >>> predict(nn.Linear(3, 2), torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """
    was_training = model.training
    model.eval()
    device = _device(model)
    with one_thread():
        out = torch.cat([model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> tuple[float, int]:
    """Mean cross-entropy and number of correct predictions of ``model`` on ``(x, y)``.

    Args:
        model: a classifier.
        x: inputs, shape (N, ...).
        y: int64 labels, shape (N,), or (N, H, W) for a per-pixel classifier.
        batch_size: inputs per forward pass.

    Returns:
        ``(loss, correct)``: the mean cross-entropy over all labels, and how many are predicted.

    >>> model = nn.Linear(2, 2)
    >>> with torch.no_grad(): _ = model.weight.copy_(torch.eye(2)), model.bias.zero_()
    >>> evaluate(model, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))[1]  # predicts 0, then 1
    1
    """
    logits = predict(model, x, batch_size)
    return F.cross_entropy(logits, y.cpu()).item(), int((logits.argmax(dim=1) == y.cpu()).sum())


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of the labels ``y`` that ``model`` predicts, in evaluation mode.

    Args:
        model: a classifier.
        x: inputs, shape (N, ...).
        y: int64 labels, shape (N,), or (N, H, W) for a per-pixel classifier.
        batch_size: inputs per forward pass.

    Returns:
        the fraction of labels predicted correctly, a float in [0, 1], exact as a ratio of two integers.

    >>> model = nn.Linear(2, 2, bias=False); _ = nn.init.eye_(model.weight)  # logits = inputs
    >>> accuracy(model, torch.tensor([[0.0, 1.0], [2.0, 1.0]]), torch.tensor([1, 1]))  # argmax 1, then 0
    0.5
    """
    return evaluate(model, x, y, batch_size)[1] / y.numel()


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Count matrix whose entry (i, j) is the number of examples of class i predicted as class j.

    Args:
        y_true: int64 labels, shape (N,).
        y_pred: int64 predictions, shape (N,).
        num_classes: number of classes C.

    Returns:
        int64 tensor of shape (C, C); rows are true classes, columns predicted ones.

    Shapes:
        (N,), (N,) -> (C, C)

    >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), num_classes=2)
    tensor([[1, 0],
            [1, 1]])
    """
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"confusion_matrix: y_true and y_pred must be 1-D of one shape, got {y_true.shape}, {y_pred.shape}"
        )
    flat = y_true.long() * num_classes + y_pred.long()  # (N,): the cell (true, predicted) as one index
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def train(
    model: nn.Module,
    data: Split,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    optimizer: Literal["sgd", "adam"] = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    augment: Augment | None = None,
    after_epoch: Callable[[int], None] | None = None,
    log: Callable[[str], None] | None = print,
) -> History:
    """Train ``model`` on ``data`` with mini-batches on the cross-entropy, in place.

    Each epoch visits the training set in a new order drawn from a private generator seeded with
    ``seed`` (:func:`train_epoch`); the last batch of an epoch may be smaller. After each epoch the
    test set is evaluated. Everything runs on one CPU thread (:func:`one_thread`).

    Args:
        model: a classifier; its weights are trained in place.
        data: the training and test sets (a :class:`Split`).
        epochs: passes over the training set.
        lr: learning rate.
        batch_size: examples per step.
        seed: seed of the loop's generator, which shuffles and augments (initial weights are the caller's).
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"`` (torch's defaults besides ``lr``).
        momentum: SGD momentum.
        weight_decay: L2 penalty, as in ``torch.optim``.
        augment: called on each training batch with the loop's generator, e.g. to shift the images;
            ``None`` trains on the data as it is.
        after_epoch: called with the epoch number (1, 2, ...) after each epoch's row is logged, for
            example to measure something on the model; the model is put back in training mode.
        log: called with the table header and each epoch's row; ``None`` for silence.

    Returns:
        the :class:`History`, one row per epoch.

    Shapes:
        data.x_train (N, ...) -> model output (B, classes) or (B, classes, H, W) per batch.

    >>> from convlib.course.digits import Digits
    >>> d = Digits(torch.rand(8, 1, 4, 4), torch.arange(8) % 2, torch.rand(4, 1, 4, 4), torch.arange(4) % 2)
    >>> h = train(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), d, epochs=2, lr=0.1, batch_size=4, seed=0, log=None)
    >>> [s.epoch for s in h.epochs], h.n_train, h.n_test
    ([1, 2], 8, 4)
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train: {name} must be a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"train: lr must be positive, got {lr!r}")
    for name in ("x_train", "y_train", "x_test", "y_test"):
        if not isinstance(getattr(data, name, None), torch.Tensor):
            raise TypeError(f"train: data.{name} must be a tensor, got {type(getattr(data, name, None)).__name__}")
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        if y.dtype != torch.int64 or y.shape[:1] != x.shape[:1]:
            raise TypeError(f"train: labels must be int64 with one row per input, got {y.dtype} {tuple(y.shape)}")
    if optimizer == "sgd":
        step: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )
    elif optimizer == "adam":
        step = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"train: optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    generator = torch.Generator().manual_seed(seed)  # shuffling independent of the global RNG
    history = History(n_train=data.y_train.numel(), n_test=data.y_test.numel())
    if log is not None:
        log(HEADER)
    with one_thread():  # the same weights whatever the core count
        for epoch in range(1, epochs + 1):
            train_loss, train_correct = train_epoch(model, data, batch_size, step, generator, augment)
            test_loss, test_correct = evaluate(model, data.x_test, data.y_test)
            history.epochs.append(EpochStats(epoch, train_loss, train_correct, test_loss, test_correct))
            if log is not None:
                log(history.row(history.epochs[-1]))
            if after_epoch is not None:
                after_epoch(epoch)
    return history


def train_epoch(
    model: nn.Module,
    data: Split,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    augment: Augment | None = None,
) -> tuple[float, int]:
    """One pass of :func:`train` over the training set, in an order drawn from ``generator``.

    Returns:
        the mean of the batches' losses, each taken before its step, and the number of training
        labels predicted correctly, each counted before its step.
    """
    model.train()
    device = _device(model)
    order = torch.randperm(len(data.y_train), generator=generator)
    loss_sum, correct, batches = 0.0, 0, 0
    for idx in order.split(batch_size):
        x, y = data.x_train[idx], data.y_train[idx]
        if augment is not None:
            x = augment(x, generator)
        x, y = x.to(device), y.to(device)
        logits = model(x)  # (B, classes) or (B, classes, H, W)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum, batches = loss_sum + loss.item(), batches + 1
        correct += int((logits.argmax(dim=1) == y).sum())
    return loss_sum / batches, correct
