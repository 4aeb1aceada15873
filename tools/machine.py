"""The machine a measurement ran on, in words: the CPU's name, as the benchmark and the status page record it."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name: the first ``model name`` of ``/proc/cpuinfo`` (Linux), else what ``platform`` says.

    Returns:
        for example ``"Intel(R) Xeon(R) Platinum 8488C"``; on a system without ``/proc/cpuinfo``, the
        processor or, failing that, the architecture (``"arm64"``).

    Shapes:
        not applicable.

    >>> isinstance(cpu_name(), str)
    True
    """
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
