"""Digits on a canvas: a small segmentation data set generated from MNIST-5k, with per-pixel labels.

:func:`make_canvases` places handwritten digits from :func:`convlib.course.digits.load_mnist5k` at
random positions and sizes on a larger black canvas, and labels every pixel: 0 for background, and
``c + 1`` for a pixel of ink of a digit of class ``c`` (so 1..10; :data:`CLASSES` = 11 in all). A pixel
is *ink* when its intensity is above ``threshold``; the faint anti-aliased rim of a stroke is
background, as is everything a digit does not cover.

Training canvases are built only from the training digits, test canvases only from the test digits,
so a network is tested on handwriting it never saw. Everything random comes from a private
``numpy.random.default_rng`` seeded with ``seed`` (the global generators are neither read nor moved),
and every step is integer arithmetic on 8-bit pixels: digits are resized by nearest-neighbour
indexing, placed by integer offsets and thresholded by an exact comparison. The canvases are
therefore the same bytes on every CPU, which :func:`checksum` makes easy to check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from convlib.course.digits import Digits, load_mnist5k

#: Label of a pixel that is not the ink of any digit.
BACKGROUND = 0
#: The number of pixel classes, background and the ten digits (digit ``c`` has label ``c + 1``).
CLASSES = 11
#: A name per label, for tables and legends.
CLASS_NAMES = ("bg", *(str(c) for c in range(10)))
#: Side of the MNIST images the canvases are made from.
DIGIT_SIDE = 28
#: Placement attempts per digit before it is left out (a digit may not cover another digit's ink).
TRIES = 20


@dataclass(frozen=True)
class Canvases:
    """A train/test split of canvases with per-pixel labels, as :func:`convlib.course.train.train` reads it.

    Attributes:
        x_train: canvases in [0, 1], torch's default dtype, shape (N, 1, S, S).
        y_train: int64 labels in 0..10 (0 background, ``c + 1`` ink of digit ``c``), shape (N, S, S).
        x_test: test canvases, shape (M, 1, S, S).
        y_test: test labels, shape (M, S, S).
        digits_train: int64 rows ``(class, top, left, size)`` of the digits placed on each training
            canvas, ``-1`` where a canvas holds fewer digits, shape (N, D, 4).
        digits_test: the same for the test canvases, shape (M, D, 4).

    >>> c = make_canvases(4, 2, size=32, digit_sizes=(14, 20))
    >>> tuple(c.x_train.shape), tuple(c.y_train.shape), c.image_size
    ((4, 1, 32, 32), (4, 32, 32), (32, 32))
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    digits_train: torch.Tensor
    digits_test: torch.Tensor

    @property
    def image_size(self) -> tuple[int, int]:
        """(S, S), the side of every canvas."""
        return int(self.x_train.shape[-2]), int(self.x_train.shape[-1])


def resize_nearest(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a square image by nearest neighbour with integer index arithmetic (the same on every CPU).

    Output pixel ``i`` copies input pixel ``floor((2i + 1) n / (2 size))``, the one under its centre.

    Args:
        image: a square array, shape (n, n).
        size: the new side.

    Returns:
        an array of the same dtype, shape (size, size).

    Shapes:
        (n, n) -> (size, size)

    >>> resize_nearest(np.arange(16).reshape(4, 4), 2)  # centres of the 2x2 blocks: pixels 1 and 3
    array([[ 5,  7],
           [13, 15]])
    """
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"resize_nearest: image must be a square 2-D array, got shape {image.shape}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"resize_nearest: size must be a positive int, got {size!r}")
    n = image.shape[0]
    index = (2 * np.arange(size) + 1) * n // (2 * size)  # (size,): source row/column of each output one
    return image[index[:, None], index[None, :]]


def _as_bytes(x: torch.Tensor) -> np.ndarray:
    """Digits in [0, 1] (float32 or float64, k/255) back to their 8-bit values k, exactly."""
    return np.rint(x.double().numpy()[:, 0] * 255).astype(np.uint8)  # (N, 1, 28, 28) -> (N, 28, 28)


def _paint(
    pool: np.ndarray,
    classes: np.ndarray,
    n: int,
    size: int,
    digit_sizes: tuple[int, int],
    per_canvas: tuple[int, int],
    threshold: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` canvases of side ``size`` with digits from ``pool`` (uint8, (P, 28, 28)); see make_canvases."""
    images = np.zeros((n, size, size), np.uint8)
    labels = np.zeros((n, size, size), np.uint8)
    placed = np.full((n, per_canvas[1], 4), -1, np.int64)  # (class, top, left, size) per digit
    for c in range(n):
        slot = 0
        for _ in range(rng.integers(per_canvas[0], per_canvas[1] + 1)):
            for _ in range(TRIES):
                k = rng.integers(len(pool))
                side = int(rng.integers(digit_sizes[0], digit_sizes[1] + 1))
                top, left = rng.integers(0, size - side + 1, size=2)
                digit = resize_nearest(pool[k], side)  # (side, side) uint8
                ink = digit > threshold * 255  # exact: an integer against a float64
                window = (slice(top, top + side), slice(left, left + side))
                if (labels[c][window][ink] != BACKGROUND).any():
                    continue  # it would cover another digit's ink: draw again
                images[c][window] = np.maximum(images[c][window], digit)
                labels[c][window][ink] = classes[k] + 1
                placed[c, slot] = (classes[k], top, left, side)
                slot += 1
                break
    return images, labels, placed


def make_canvases(
    n_train: int = 1000,
    n_test: int = 300,
    *,
    size: int = 32,
    digit_sizes: tuple[int, int] = (14, 20),
    per_canvas: tuple[int, int] = (2, 3),
    threshold: float = 0.5,
    seed: int = 0,
    digits: Digits | None = None,
) -> Canvases:
    """Canvases of MNIST digits at random positions and sizes, with a label for every pixel.

    Each canvas gets between ``per_canvas[0]`` and ``per_canvas[1]`` digits. Each digit is drawn
    uniformly from the split's digits, resized from 28×28 to a side drawn uniformly from
    ``digit_sizes`` (nearest neighbour, :func:`resize_nearest`) and placed at a uniform position
    where it fits entirely; where two digits' boxes overlap the brighter pixel wins. A digit whose ink
    would cover another's is drawn again, up to :data:`TRIES` times, and then left out, so no pixel
    has two labels.

    Args:
        n_train: training canvases, made from ``digits.x_train`` only.
        n_test: test canvases, made from ``digits.x_test`` only.
        size: side S of the square canvas.
        digit_sizes: smallest and largest digit side, in pixels (at most ``size``).
        per_canvas: fewest and most digits on a canvas.
        threshold: a pixel is ink when its intensity (in [0, 1]) is strictly above this.
        seed: seed of the private generator; the training and test canvases use independent streams.
        digits: where the digits come from; ``None`` loads :func:`~convlib.course.digits.load_mnist5k`.
            Pass ``validation_split(load_mnist5k(), ...)`` to build validation canvases from held-out
            training digits.

    Returns:
        a :class:`Canvases`: images ``k / 255`` in torch's default dtype and int64 labels in 0..10.

    Shapes:
        x_train (n_train, 1, S, S), y_train (n_train, S, S), x_test (n_test, 1, S, S), y_test (n_test, S, S).

    >>> c = make_canvases(8, 4, size=32, digit_sizes=(14, 20), per_canvas=(1, 1))
    >>> ink = c.y_train[0] > 0
    >>> bool((c.x_train[0, 0][ink] > 0.5).all()), int(c.y_train.max()) <= 10  # labelled pixels are ink
    (True, True)
    """
    for name, value, low in (("n_train", n_train, 0), ("n_test", n_test, 0), ("size", size, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"make_canvases: {name} must be an int >= {low}, got {value!r}")
    if not (len(digit_sizes) == 2 and 1 <= digit_sizes[0] <= digit_sizes[1] <= size):
        raise ValueError(
            f"make_canvases: digit_sizes must be (low, high) with 1 <= low <= high <= {size}, got {digit_sizes!r}"
        )
    if not (len(per_canvas) == 2 and 0 <= per_canvas[0] <= per_canvas[1] and per_canvas[1] >= 1):
        raise ValueError(
            f"make_canvases: per_canvas must be (low, high) with 0 <= low <= high, high >= 1, got {per_canvas!r}"
        )
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"make_canvases: threshold must be in [0, 1), got {threshold!r}")
    source = load_mnist5k() if digits is None else digits
    out = []
    for stream, (x, y, n) in enumerate(
        ((source.x_train, source.y_train, n_train), (source.x_test, source.y_test, n_test))
    ):
        rng = np.random.default_rng([seed, stream])  # training and test canvases: independent streams
        images, labels, placed = _paint(_as_bytes(x), y.numpy(), n, size, digit_sizes, per_canvas, threshold, rng)
        dtype = torch.get_default_dtype()
        out += [
            torch.from_numpy(images).unsqueeze(1).to(dtype) / 255,
            torch.from_numpy(labels).long(),
            torch.from_numpy(placed),
        ]
    (x_tr, y_tr, d_tr), (x_te, y_te, d_te) = out[:3], out[3:]
    return Canvases(x_tr, y_tr, x_te, y_te, d_tr, d_te)


def checksum(canvases: Canvases) -> str:
    """The first 16 hex digits of the SHA-256 of every canvas's 8-bit pixels and labels, train then test.

    Args:
        canvases: a :class:`Canvases`.

    Returns:
        16 hexadecimal characters; two calls with the same arguments, on any CPU, give the same.

    Shapes:
        none.

    >>> checksum(make_canvases(2, 1, size=32)) == checksum(make_canvases(2, 1, size=32))
    True
    """
    h = hashlib.sha256()
    for x, y in ((canvases.x_train, canvases.y_train), (canvases.x_test, canvases.y_test)):
        h.update(_as_bytes(x).tobytes())
        h.update(y.numpy().astype(np.uint8).tobytes())
    return h.hexdigest()[:16]
