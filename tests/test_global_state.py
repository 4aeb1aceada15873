"""The root conftest.py restores the global state after doctests too, not only after the tests in tests/.

The doctest of ``convlib.course.notebook.setup`` turns on torch's deterministic algorithms, seeds every
generator and restyles matplotlib (run here without pytest, that is what it does). Run by pytest with the
repository's configuration, then followed by a test outside the repository (so no conftest.py applies to it)
that compares the state with the state before the doctest ran, it leaves nothing changed.
"""

from __future__ import annotations

import doctest
import inspect
import os
import random
from typing import Any

import matplotlib as mpl
import numpy as np
import pytest
import torch

from convlib.course import notebook
from tests.helpers import ROOT

NOTEBOOK = ROOT / "convlib" / "course" / "notebook.py"  # setup() and its doctest


def snapshot() -> dict[str, Any]:
    """The global state that setup() changes, in a form that compares with ==."""
    return {
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "default dtype": torch.get_default_dtype(),
        "torch print options": dict(vars(torch._tensor_str.PRINT_OPTS)),
        "numpy print options": np.get_printoptions(),
        "rcParams": {key: repr(value) for key, value in mpl.rcParams.items()},
        "torch generator": torch.get_rng_state().tolist(),
        "numpy generator": repr(np.random.get_state()),  # noqa: NPY002 -- the legacy global one, which setup() seeds
        "random": random.getstate(),
        "environment": {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"},  # pytest's own
    }


# Collected before the doctest runs, so BEFORE is the state the doctest starts from; run after it.
STATE_IS_RESTORED = f"""
import os, random
from typing import Any

import matplotlib as mpl
import numpy as np
import torch

{inspect.getsource(snapshot)}

BEFORE = snapshot()


def test_the_state_is_as_before_the_doctest():
    after = snapshot()
    assert [key for key in BEFORE if BEFORE[key] != after[key]] == []
"""


def test_the_doctest_of_setup_changes_global_state() -> None:
    """Without pytest: the doctest does change the state (this test's fixture then restores it)."""
    before = snapshot()
    result = doctest.testmod(notebook, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0
    changed = [key for key in before if before[key] != snapshot()[key]]
    assert {"deterministic", "rcParams", "torch generator", "random"} <= set(changed), changed


def test_pytest_restores_the_state_after_the_doctest(pytester: pytest.Pytester) -> None:
    check = pytester.makepyfile(test_state=STATE_IS_RESTORED)
    config = ["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider"]
    config += ["-p", "no:nbval", "-p", "no:xdist", "-p", "no:anyio", "-p", "no:hypothesispytest"]  # 40% faster
    result = pytester.runpytest_subprocess(*config, "--doctest-modules", str(NOTEBOOK), str(check))
    result.assert_outcomes(passed=4)  # the doctests of setup, figure_png and below, then the check
