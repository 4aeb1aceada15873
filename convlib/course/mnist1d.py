"""MNIST-1D, regenerated offline, and a minimal training loop for 1-D sequence classifiers.

MNIST-1D (Greydanus, "Scaling down deep learning", arXiv:2011.14439, 2020) turns ten
hand-drawn 12-sample templates, one per digit, into 5,000 signals of 40 samples by random padding,
scaling, translation, correlated and white noise, shear and resampling. The ``mnist1d`` package
(Apache-2.0) regenerates the canonical 4,000/1,000 split from its templates with NumPy and SciPy
alone: :func:`load_mnist1d` calls its ``make_dataset(get_dataset_args())``, which never touches the
network, and returns int64 labels and signals in torch's default dtype (float32 unless ``setup``
says otherwise). The package seeds NumPy's and Python's *global* random
generators (seed 42); we save and restore both, so loading the data leaves a notebook's seeded state
alone.

:func:`fit` and :func:`accuracy` are the smallest honest training loop for these models: Adam on the
cross-entropy, mini-batches reshuffled every epoch by the loop's own ``torch.Generator``, one CPU
thread, no progress bar. They are scoped to the chapter's small sequence classifiers, which map
``(N, L)`` to ``(N, classes)``.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from convlib.course.train import one_thread

#: Samples per signal, classes, and the sizes of the canonical split.
LENGTH, CLASSES, TRAIN, TEST = 40, 10, 4000, 1000


@dataclass(frozen=True)
class MNIST1D:
    """The canonical MNIST-1D split as tensors.

    Shapes:
        ``x_train`` (4000, 40), ``y_train`` (4000,) int64, ``x_test`` (1000, 40), ``y_test`` (1000,)
        int64, ``templates`` (10, 12) (row ``c`` is digit ``c``); the signals in torch's default dtype.
        The signals are standardised over the whole set (mean 0, standard deviation 1).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    templates: torch.Tensor


@functools.cache
def _generate() -> dict[str, np.ndarray]:
    """Run the package's generator once per process, leaving the global random states as they were."""
    from mnist1d.data import get_dataset_args, make_dataset  # imported here: no work on import

    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002 -- make_dataset reseeds the legacy global generator
        random.setstate(python_state)
    arrays = {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}
    arrays["templates"] = np.asarray(data["templates"]["x"])
    for a in arrays.values():
        a.flags.writeable = False  # the cache is shared; callers get copies
    return arrays


def load_mnist1d() -> MNIST1D:
    """Load the canonical MNIST-1D split, regenerated locally (about 2 s the first time, then cached).

    Returns:
        an :class:`MNIST1D` of fresh tensors (changing them does not change the next call's).

    Shapes:
        x: (N, 40) in torch's default dtype; y: (N,) int64 in 0..9; N = 4000 (train) or 1000 (test).

    >>> data = load_mnist1d()
    >>> data.x_train.shape, data.x_test.shape, data.y_train.dtype  # 80% / 20% of 5,000 signals
    (torch.Size([4000, 40]), torch.Size([1000, 40]), torch.int64)
    """
    a = _generate()
    signals = {k: torch.tensor(a[k], dtype=torch.get_default_dtype()) for k in ("x", "x_test", "templates")}
    labels = {k: torch.tensor(a[k], dtype=torch.int64) for k in ("y", "y_test")}
    return MNIST1D(signals["x"], labels["y"], signals["x_test"], labels["y_test"], signals["templates"])


def _check_data(op: str, x: torch.Tensor, y: torch.Tensor) -> None:
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.ndim >= 2):
        raise TypeError(f"{op}: x must be a floating tensor of shape (N, ...), got {type(x).__name__}")
    if not (isinstance(y, torch.Tensor) and y.dtype == torch.int64 and y.shape == x.shape[:1]):
        raise TypeError(f"{op}: y must be an int64 tensor of shape ({x.shape[0]},), got {getattr(y, 'shape', y)}")


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 100,
    lr: float = 1e-2,
    seed: int = 0,
    after_epoch: Callable[[int], None] | None = None,
) -> list[float]:
    """Train a classifier with Adam on the cross-entropy; the batch order depends on ``seed`` alone.

    Args:
        model: maps ``x`` of shape ``(B, ...)`` to logits ``(B, classes)``; trained in place.
        x: inputs, ``(N, ...)``, on the model's device.
        y: class indices, ``(N,)`` int64.
        epochs: passes over the data, each in a new random order.
        batch_size: samples per Adam step (the last batch of an epoch may be smaller).
        lr: Adam's learning rate.
        seed: seeds this loop's own ``torch.Generator``, so the global random state is not used.
        after_epoch: called with the epoch number (1, 2, ...) after each epoch, for example to measure
            the test loss; the model is put back in training mode afterwards.

    Returns:
        the mean training loss of each epoch.

    Shapes:
        x: (N, ...), y: (N,).

    >>> torch.manual_seed(0); model = nn.Linear(3, 2)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> x = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]); y = torch.tensor([0, 1])
    >>> losses = fit(model, x, y, epochs=50, batch_size=2, lr=0.1)
    >>> losses[-1] < losses[0] / 10, accuracy(model, x, y)  # two separable points: learnt
    (True, 1.0)
    """
    _check_data("fit", x, y)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"fit: {name} must be a positive int, got {value!r}")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    with one_thread():
        for epoch in range(1, epochs + 1):
            order = torch.randperm(len(x), generator=generator).to(x.device)
            total = 0.0
            for batch in order.split(batch_size):
                loss = F.cross_entropy(model(x[batch]), y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            losses.append(total / len(x))
            if after_epoch is not None:
                after_epoch(epoch)
                model.train()
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y``, in evaluation mode.

    Args:
        model: maps ``(N, ...)`` to logits ``(N, classes)``.
        x: inputs, ``(N, ...)``.
        y: class indices, ``(N,)`` int64.

    Returns:
        correct / N, a float in [0, 1] (exact: a ratio of two integers).

    Shapes:
        x: (N, ...), y: (N,).

    >>> accuracy(nn.Identity(), torch.tensor([[0.0, 1.0], [2.0, 1.0]]), torch.tensor([1, 1]))  # argmax 1, 0
    0.5
    """
    _check_data("accuracy", x, y)
    model.eval()
    with one_thread():
        correct = int((model(x).argmax(dim=1) == y).sum().item())
    return correct / len(y)
