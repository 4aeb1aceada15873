"""Shared pytest configuration: Hypothesis profiles and common fixtures.

Profiles: ``ci`` (the default) is derandomized, so a run is repeatable and a failure reproduces;
``dev`` explores more examples. Select with ``HYPOTHESIS_PROFILE=dev``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile("dev", parent=settings.get_profile("ci"), derandomize=False, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(autouse=True)
def _restore_global_state() -> Iterator[None]:
    """Undo what a test changes globally (``setup()``, thread counts), so no test depends on the order."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    dtype = torch.get_default_dtype()
    torch_print = dict(vars(torch._tensor_str.PRINT_OPTS))  # precision, threshold, edgeitems, linewidth, sci_mode
    numpy_print, rc = np.get_printoptions(), mpl.rcParams.copy()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    torch.set_default_dtype(dtype)
    torch.set_printoptions(**torch_print)
    np.set_printoptions(**numpy_print)
    mpl.rcParams.update(rc)
