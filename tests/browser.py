"""Headless Chromium (Debian's ``chromium``) for the tests that need a real browser.

With ``CONVLIB_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs chromium when absent) a
missing browser fails the test instead of skipping it, so CI can never pass without running them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright


# How every test starts Chromium: headless, no GPU, none of its background services, no QUIC.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-quic"]  # fmt: skip


def chromium() -> str:
    """The browser's path; skips the calling test where it is missing, unless the browser is required."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CONVLIB_REQUIRE_BROWSER"):
            pytest.fail("CONVLIB_REQUIRE_BROWSER is set but Debian's chromium is not installed")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return path


def rendered_dom(page: Path | str, budget_ms: int) -> str:
    """The page's DOM (a file, or a URL) after ``budget_ms`` of virtual time, with the network cut off."""
    url = page if isinstance(page, str) else page.as_uri()
    cmd = [chromium(), *FLAGS, "--proxy-server=127.0.0.1:9", f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def launch(playwright: Playwright, net_log: Path) -> Browser:
    """Debian's Chromium driven by Playwright (never a browser of Playwright's own), logging the network.

    Playwright gives each launch a fresh temporary profile (``--user-data-dir``) and removes it at close;
    Chromium writes ``net_log`` (JSON, see tests/netlog.py) and completes it when the browser closes.
    """
    return playwright.chromium.launch(executable_path=chromium(), args=[*FLAGS, f"--log-net-log={net_log}"])
