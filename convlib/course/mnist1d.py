"""MNIST-1D, regenerated offline.

MNIST-1D (Greydanus, "Scaling down deep learning", arXiv:2011.14439, 2020) turns ten
hand-drawn 12-sample templates, one per digit, into 5,000 signals of 40 samples by random padding,
scaling, translation, correlated and white noise, shear and resampling. The ``mnist1d`` package
(Apache-2.0) regenerates the canonical 4,000/1,000 split from its templates with NumPy and SciPy
alone: :func:`load_mnist1d` calls its ``make_dataset(get_dataset_args())``, which never touches the
network, and returns int64 labels and signals in torch's default dtype (float32 unless ``setup``
says otherwise). The package seeds NumPy's and Python's *global* random
generators (seed 42); we save and restore both, so loading the data leaves a notebook's seeded state
alone.

An :class:`MNIST1D` is a split that ``convlib.course.train.train`` trains on, like the digit images.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np
import torch

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
