"""Every test and every doctest leaves the process's global state as it found it.

This file sits at the repository root, not in tests/, because pytest applies a conftest.py only to the
files below it: the doctests of convlib/ (``pytest --doctest-modules tests convlib``) are not below tests/,
and ``convlib.course.notebook.setup()``, which a doctest calls, turns on deterministic algorithms, seeds
every generator and restyles matplotlib. A conftest.py inside convlib/ would ship in the package.
The tests' own configuration (Hypothesis profiles, the browser) stays in tests/conftest.py.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import matplotlib as mpl
import numpy as np
import pytest
import torch

pytest_plugins = ["pytester"]  # tests/test_global_state.py runs pytest inside a test
PYTEST = "PYTEST_CURRENT_TEST"  # pytest's own variable, which it sets at each phase of a test


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker gets its share of the cores for torch's threads.

    Two workers on two cores, each with torch's default of one thread per core, put four OpenMP threads on
    two cores: a thread that waits at a barrier for one descheduled by the other worker spins, and the small
    convolutions of the oracle suites ran up to 40 times slower (the unit suite took 117 s instead of 69 s).
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))


def _deterministic() -> tuple[bool, bool]:
    return torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()


@pytest.fixture(autouse=True)
def _restore_global_state() -> Iterator[None]:
    """Undo what a test or doctest changes globally (``setup()``, thread counts), so none depends on the order."""
    threads = torch.get_num_threads()
    deterministic = _deterministic()
    dtype, cudnn_benchmark = torch.get_default_dtype(), torch.backends.cudnn.benchmark
    torch_print = dict(vars(torch._tensor_str.PRINT_OPTS))  # precision, threshold, edgeitems, linewidth, sci_mode
    numpy_print, rc = np.get_printoptions(), mpl.rcParams.copy()
    rng = torch.get_rng_state(), np.random.get_state(), random.getstate()  # noqa: NPY002 -- the global generator
    environ = {k: v for k, v in os.environ.items() if k != PYTEST}  # setup() sets CUBLAS_WORKSPACE_CONFIG
    yield
    torch.set_num_threads(threads)
    if _deterministic() != deterministic:  # the call imports torch._inductor, 1.2 s: only when needed
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    torch.set_default_dtype(dtype)
    torch.backends.cudnn.benchmark = cudnn_benchmark
    torch.set_printoptions(**torch_print)
    np.set_printoptions(**numpy_print)
    mpl.rcParams.update({key: value for key, value in rc.items() if mpl.rcParams[key] != value})  # only what changed
    torch.set_rng_state(rng[0])
    np.random.set_state(rng[1])  # noqa: NPY002
    random.setstate(rng[2])
    for key in os.environ.keys() - environ.keys() - {PYTEST}:
        del os.environ[key]
    os.environ.update({key: value for key, value in environ.items() if os.environ.get(key) != value})
