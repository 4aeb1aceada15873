"""How the benchmark times things (``tools/bench.py``): interleaved rounds, the sgemm ceiling, STREAM bandwidth.

Every candidate is warmed up, then candidates are *interleaved* round by round, so that a burst of
background load hits all of them alike, and each keeps its best (minimum) round; each round repeats a
call until it lasts at least ``min_round`` seconds. Before any timing, :func:`settle_allocator` puts
the C allocator in one state, whatever the process did before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import torch

BANDWIDTH_MIB = 256  # each array of the copy and triad kernels: far beyond any CPU cache


def interleaved(candidates: Mapping[str, Callable[[], object]], rounds: int, min_round: float) -> dict[str, float]:
    """Best seconds per call of each candidate, timing them in interleaved rounds."""
    repeats = {}
    for name, fn in candidates.items():
        fn()  # warm-up: allocations, caches, lazy initialisation
        start = time.perf_counter()
        fn()
        repeats[name] = max(1, math.ceil(min_round / max(time.perf_counter() - start, 1e-9)))
    best = dict.fromkeys(candidates, math.inf)
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for _ in range(repeats[name]):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / repeats[name])
    return best


def settle_allocator() -> None:
    """Put the C allocator in the state of a program that has run a while, the same in every run.

    glibc serves a block above its mmap threshold (128 KiB at start) straight from the operating
    system and gives it back when freed, so a call that allocates such a block pays a page fault per
    4 KiB it touches; freeing one such block raises the threshold to its size (up to 32 MiB), and
    later blocks come from the reused heap. Which state a process is in depends on what it freed
    before: torch's S1 forward, whose result is 1 MiB, took 0.8 ms before and 0.2 ms after. One
    24 MiB block freed before any timing puts every candidate, torch included, in the second state.
    """
    torch.empty(6 << 20)  # 24 MiB of float32, freed at once: nothing keeps it


def sgemm_gflops(n: int, rounds: int, min_round: float) -> float:
    """Achieved GFLOP/s of an ``n x n`` float32 matrix product: the machine's practical ceiling."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / interleaved({"mm": lambda: a @ b}, rounds, min_round)["mm"] / 1e9


def stream_bandwidth(mib: int, rounds: int, min_round: float) -> dict[str, float]:
    """Best GB/s of STREAM's copy (``a = b``) and triad (``a = b + q c``) kernels on float32 arrays.

    The bytes counted are STREAM's: copy reads one array and writes one (2 words per element), triad
    reads two and writes one (3 words); write-allocate traffic is not counted, so these are lower
    bounds on what the memory system moved.

    Args:
        mib: size of each array in MiB.
        rounds: timed rounds (interleaved, best kept).
        min_round: seconds per round at least.

    Returns:
        ``{"copy_gbs": ..., "triad_gbs": ...}`` in GB/s (1e9 bytes per second).

    Shapes:
        three arrays of ``mib * 2**20 / 4`` float32 elements.

    >>> sorted(stream_bandwidth(1, rounds=1, min_round=0.0))  # 1 MiB arrays: a smoke run
    ['copy_gbs', 'triad_gbs']
    """
    n = mib * 2**20 // 4
    a, b, c = torch.zeros(n), torch.rand(n), torch.rand(n)
    best = interleaved(
        {"copy": lambda: a.copy_(b), "triad": lambda: torch.add(b, c, alpha=3.0, out=a)}, rounds, min_round
    )
    return {"copy_gbs": 2 * 4 * n / best["copy"] / 1e9, "triad_gbs": 3 * 4 * n / best["triad"] / 1e9}
