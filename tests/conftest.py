"""The tests' pytest configuration: Hypothesis profiles and common fixtures.

Profiles: ``ci`` (the default) is derandomized, so a run is repeatable and a failure reproduces;
``dev`` explores more examples. Select with ``HYPOTHESIS_PROFILE=dev``. The fixture that restores the global
state after every test is in the root conftest.py, so that it reaches the doctests of convlib/ as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from playwright.sync_api import Browser, sync_playwright

from tests.browser import chromium, launch

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, driven by Playwright (tests/browser.py), for the tests of one module.

    One module at a time, not one for the session: Playwright's sync API keeps an event loop of its own,
    which is better not left open under the other tests of a worker.
    """
    chromium()  # skip, or fail under CONVLIB_REQUIRE_BROWSER=1, before Playwright starts
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()
