"""The tests' pytest configuration: Hypothesis profiles and common fixtures.

Profiles: ``ci`` (the default) is derandomized, so a run is repeatable and a failure reproduces;
``dev`` explores more examples. Select with ``HYPOTHESIS_PROFILE=dev``. The fixture that restores the global
state after every test is in the root conftest.py, so that it reaches the doctests of convlib/ as well.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
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
