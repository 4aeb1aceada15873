"""Benchmark of every ``method=`` against ``torch.nn.functional`` and the peer libraries: ``python tools/bench.py``.

Writes into ``benchmarks/`` (or ``--out DIR``), for the book to show:

- ``conv_benchmark.md``: the tables; ``conv_benchmark.png``: the figure;
- ``conv_benchmark.json``: every number, for the chapters (``convlib.course.benchmarks`` reads it);
- ``auto_cost.json``: the cost constants of ``method="auto"`` in use, and the ones refitted here;
- ``bandwidth.json`` (``--suite bandwidth`` alone, a few seconds): the memory bandwidth of STREAM-style copy
  and triad kernels, with the sgemm ceiling that the roofline compares it with;
- ``conv_impl.json``: which oneDNN implementation (or torch's own kernel) ``F.conv2d`` ran for each
  shape, on this CPU and with oneDNN capped at older instruction sets (``tools/onednn.py``).

What it measures, in one run:

1. five 2-D layer shapes S1-S5, every method forward and forward+backward, with scipy and the peer
   fft-conv-pytorch where they apply;
2. two 1-D long-kernel shapes L1, L2, with the peers fft-conv-pytorch and julius, and every
   candidate's largest error against ``F.conv1d`` computed in float64;
3. a kernel-size sweep on one 256² channel (where FFT overtakes torch);
4. grouped, depthwise and pointwise layers (time against multiply-adds: they are memory-bound);
5. the "auto regret" sweep: on about 30 shapes, ``method="auto"`` 's time over the best method's,
   from which the cost constants of its rule are refitted (non-negative least squares on relative error).

This is a measurement, not a test: numbers depend on the machine and on whatever else runs on it.

- one large matrix product runs first (it wakes the CPU and measures the sgemm ceiling, measured
  again at the end, keeping the better);
- every candidate is warmed up, then candidates are *interleaved* round by round, so a burst of
  background load hits all of them alike, and each keeps its best (minimum) round;
- each round repeats a call until it lasts at least ``--min-round`` seconds;
- ``torch.set_num_threads(--threads)`` fixes the thread count for torch and scipy alike;
- a whole run can land in a slow state of the machine: on the 2-core VM this was written on,
  consecutive processes measured S1's im2col at 0.29 or 0.65 ms while ``F.conv2d`` stayed at
  0.145-0.16 ms. What slows down is data that one thread wrote and another reads, which a
  convlib op does between its steps (pad, copy, matrix product, bias) and ``F.conv2d``, one
  kernel, does not. Compare runs before trusting a ratio near a target.

Times are reported as ratios to torch's time in the same run, which cancels most of the machine's
speed. GFLOP/s counts the direct method's ``2 * N * C_out * C_in/g * out * k`` flops for every
method, so for FFT it is an *effective* rate and may exceed the sgemm ceiling.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import random
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from convlib import functional as cf
from convlib.algorithms import registry
from convlib.algorithms.winograd import supports

if not __package__:  # run as a script (python tools/bench.py): make the repository importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import onednn

Shape = tuple[int, int, int, int, int]  # (N, C_in, size, C_out, k): H = W = size in 2-D, L = size in 1-D
SHAPES: dict[str, Shape] = {
    "S1": (1, 3, 128, 16, 3),
    "S2": (32, 16, 32, 32, 3),
    "S3": (8, 64, 56, 64, 3),
    "S4": (1, 1, 256, 1, 31),
    "S5": (4, 8, 128, 8, 15),
}
LONG: dict[str, Shape] = {"L1": (8, 16, 8192, 32, 512), "L2": (4, 8, 16384, 8, 2048)}
GROUPED: dict[str, tuple[Shape, int]] = {  # (shape, groups): one 3x3 block of a mobile network, 4 ways
    "full 3x3": ((8, 64, 56, 64, 3), 1),
    "grouped 3x3, g=8": ((8, 64, 56, 64, 3), 8),
    "depthwise 3x3": ((8, 64, 56, 64, 3), 64),
    "pointwise 1x1": ((8, 64, 56, 64, 1), 1),
}
QUICK = {"shapes": {"Q1": (2, 3, 12, 4, 3), "Q2": (1, 1, 16, 1, 5)}, "long": {"QL": (1, 2, 64, 2, 9)}}
SWEEP_SIZE, SWEEP_KERNELS = 256, tuple(range(3, 34, 4))
PEERS = ("fft-conv-pytorch", "julius")
_COLOR = {name: f"C{i}" for i, name in enumerate(("torch", *registry.METHODS, "scipy", *PEERS))}


@dataclass
class Row:
    """A candidate's best times on one shape (``fwdbwd`` is None where it was not measured)."""

    shape: str
    dims: Shape
    method: str
    fwd: float
    fwdbwd: float | None
    error: float | None = None  # largest |difference| from the float64 reference (long shapes)


def flops(dims: Shape, nd: int = 2, groups: int = 1) -> int:
    """The direct method's forward flops: 2 per multiply-add; padding k//2 keeps the size (odd k)."""
    n, c, size, c_out, k = dims
    out = size + 2 * (k // 2) - k + 1
    return 2 * n * c_out * (c // groups) * out**nd * k**nd


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


def _sgemm_gflops(n: int, rounds: int, min_round: float) -> float:
    """Achieved GFLOP/s of an ``n x n`` float32 matrix product: the machine's practical ceiling."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / interleaved({"mm": lambda: a @ b}, rounds, min_round)["mm"] / 1e9


BANDWIDTH_MIB = 256  # each array of the copy and triad kernels: far beyond any CPU cache


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


def run_bandwidth(quick: bool, threads: int, rounds: int, min_round: float) -> dict:
    """The bandwidth suite: copy and triad GB/s, and the sgemm ceiling measured in the same process."""
    torch.set_num_threads(threads)
    if quick:
        rounds, min_round = 2, 0.001
    gemm, mib = (256, 1) if quick else (2048, BANDWIDTH_MIB)
    gflops = _sgemm_gflops(gemm, rounds, min_round)
    stream = stream_bandwidth(mib, rounds, min_round)
    gflops = max(gflops, _sgemm_gflops(gemm, rounds, min_round))  # best of start and end, as in the main run
    return {"machine": _machine(threads, gflops), "array_mib": mib, **stream}


def committed_sgemm(folder: Path) -> float | None:
    """The sgemm ceiling of the main run committed in ``folder`` (the roofline's peak), or None if there is none."""
    path = folder / "conv_benchmark.json"
    return json.loads(path.read_text())["machine"]["sgemm_gflops"] if path.is_file() else None


def _tensors(dims: Shape, nd: int, groups: int = 1, grad: bool = False) -> tuple[torch.Tensor, ...]:
    """Seeded input, weight, bias and output gradient for one shape."""
    n, c, size, c_out, k = dims
    gen = torch.Generator().manual_seed(0)
    out = size + 2 * (k // 2) - k + 1
    shapes = ((n, c, *[size] * nd), (c_out, c // groups, *[k] * nd), (c_out,), (n, c_out, *[out] * nd))
    x, w, b, g = (torch.randn(*s, generator=gen) for s in shapes)
    return x.requires_grad_(grad), w.requires_grad_(grad), b.requires_grad_(grad), g


def _candidates(dims: Shape, backward: bool) -> dict[str, Callable[[], object]]:
    """torch, every applicable convlib method and the applicable peers on one 2-D shape."""
    k = dims[4]
    x, w, b, g = _tensors(dims, 2, grad=backward)

    def run(conv: Callable[..., torch.Tensor]) -> Callable[[], object]:
        if backward:
            return lambda: torch.autograd.grad(conv(x, w, b, padding=k // 2), (x, w, b), g)
        return lambda: conv(x, w, b, padding=k // 2)

    out: dict[str, Callable[[], object]] = {"torch": run(F.conv2d)}
    for method in registry.METHODS:
        if method != "winograd" or supports((k, k), (1, 1), (1, 1)):
            out[method] = run(lambda *a, m=method, **kw: cf.conv2d(*a, **kw, method=m))
    if k >= 7 and not backward:  # the peer is an FFT convolution: compare where FFT is the right tool
        out["fft-conv-pytorch"] = run(_fft_conv_pytorch())
    if dims[0] == dims[1] == dims[3] == 1 and not backward:
        out["scipy"] = _scipy(x[0, 0], w[0, 0])
    return out


def _fft_conv_pytorch() -> Callable[..., torch.Tensor]:
    from fft_conv_pytorch import fft_conv

    return lambda x, w, b, padding: fft_conv(x, w, b, padding=padding)


def _julius() -> Callable[..., torch.Tensor]:
    from julius.fftconv import fft_conv1d

    return lambda x, w, b, padding: fft_conv1d(x, w, b, padding=padding)


def _scipy(x: torch.Tensor, w: torch.Tensor) -> Callable[[], object]:
    """scipy's FFT convolution, as a correlation: flip the kernel; ``"same"`` is padding ``k//2``."""
    import scipy.fft
    import scipy.signal

    xn, wn = x.detach().numpy(), w.detach().numpy()[::-1, ::-1].copy()

    def fn() -> object:
        with scipy.fft.set_workers(torch.get_num_threads()):
            return scipy.signal.fftconvolve(xn, wn, mode="same")

    return fn


def _measure(shapes: dict[str, Shape], rounds: int, min_round: float) -> list[Row]:
    """One row per (shape, candidate): forward and forward+backward seconds."""
    rows = []
    for label, shape in shapes.items():
        forward = interleaved(_candidates(shape, backward=False), rounds, min_round)
        both = interleaved(_candidates(shape, backward=True), rounds, min_round)
        rows += [Row(label, shape, name, t, both.get(name)) for name, t in forward.items()]
    return rows


def _measure_long(shapes: dict[str, Shape], rounds: int, min_round: float) -> list[Row]:
    """1-D long kernels: torch, convlib's fft and auto, and the two peers, with each one's largest error."""
    rows = []
    for label, dims in shapes.items():
        x, w, b, _ = _tensors(dims, 1)
        pad = dims[4] // 2
        convs: dict[str, Callable[..., torch.Tensor]] = {
            "torch": F.conv1d,
            "fft": lambda *a, **kw: cf.conv1d(*a, **kw, method="fft"),
            "auto": lambda *a, **kw: cf.conv1d(*a, **kw, method="auto"),
            "fft-conv-pytorch": _fft_conv_pytorch(),
            "julius": _julius(),
        }
        exact = _exact_conv1d(x, w, b, pad)
        errors = {
            name: (conv(x, w, b, padding=pad).double() - exact).abs().max().item() for name, conv in convs.items()
        }
        calls = {name: functools.partial(conv, x, w, b, padding=pad) for name, conv in convs.items()}
        times = interleaved(calls, rounds, min_round)
        rows += [Row(label, dims, name, times[name], None, errors[name]) for name in convs]
    return rows


def _exact_conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, pad: int) -> torch.Tensor:
    """``F.conv1d`` in float64 by scipy's FFT convolution: the reference for every candidate's error.

    torch's float64 ``conv1d`` on CPU builds a patch matrix (8.6 GB for L2); scipy convolves every
    (image, output channel, input channel) triple at once along the last axis, and sums over inputs.
    """
    import scipy.signal

    xs = np.pad(x.double().numpy(), ((0, 0), (0, 0), (pad, pad)))[:, None]  # (N, 1, C_in, L + 2p)
    ws = w.double().numpy()[None, :, :, ::-1]  # (1, C_out, C_in, k), flipped: a correlation
    y = scipy.signal.fftconvolve(xs, ws, mode="valid", axes=-1).sum(axis=2)  # (N, C_out, L_out)
    return torch.from_numpy(y) + b.double()[:, None]


def _sweep(size: int, kernels: Sequence[int], rounds: int, min_round: float) -> dict[str, list[float]]:
    """Forward seconds of torch, fft, im2col and scipy on one ``size x size`` channel, per kernel size."""
    times: dict[str, list[float]] = {"torch": [], "fft": [], "im2col": [], "scipy": []}
    for k in kernels:
        cands = _candidates((1, 1, size, 1, k), backward=False)
        best = interleaved({name: cands[name] for name in times}, rounds, min_round)
        for name in times:
            times[name].append(best[name])
    return times


def _measure_grouped(layers: dict[str, tuple[Shape, int]], rounds: int, min_round: float) -> list[dict]:
    """torch's and convlib's forward time per layer, with multiply-adds and bytes the layer must move."""
    out = []
    convs: dict[str, Callable[..., torch.Tensor]] = {"torch": F.conv2d, "auto": cf.conv2d}
    for label, (dims, groups) in layers.items():
        x, w, b, _ = _tensors(dims, 2, groups)
        pad = dims[4] // 2
        calls = {name: functools.partial(conv, x, w, b, padding=pad, groups=groups) for name, conv in convs.items()}
        times = interleaved(calls, rounds, min_round)
        macs = flops(dims, 2, groups) // 2
        moved = 4 * (x.numel() + w.numel() + x.shape[0] * dims[3] * x.shape[2] * x.shape[3])  # read x, w; write y
        out.append(
            {
                "layer": label,
                "dims": dims,
                "groups": groups,
                "macs": macs,
                "bytes": moved,
                "torch_ms": 1e3 * times["torch"],
                "auto_ms": 1e3 * times["auto"],
            }
        )
    return out


def regret_shapes(count: int = 30, seed: int = 0, budget: float = 4e8) -> list[tuple[Shape, int]]:
    """``count`` 2-D layer shapes (with stride) spread over kernel 1-31, sizes 16-256, channels 1-128, batch 1-32.

    Shapes whose direct multiply-adds exceed ``budget`` (or whose patch matrix exceeds 256 MiB) are
    redrawn, so that the sweep stays within a few minutes on two cores.

    Args:
        count: number of shapes.
        seed: the draw is a fixed function of it.
        budget: largest multiply-add count of one forward pass.

    Returns:
        ``((N, C_in, size, C_out, k), stride)`` pairs.

    Shapes:
        none.
    """
    rng, shapes = random.Random(seed), list[tuple[Shape, int]]()
    while len(shapes) < count:
        k, size = rng.choice([1, 3, 3, 5, 7, 9, 11, 15, 21, 31]), rng.choice([16, 32, 56, 64, 128, 256])
        c_in, c_out = rng.choice([1, 3, 8, 16, 32, 64, 128]), rng.choice([1, 8, 16, 32, 64, 128])
        n, stride = rng.choice([1, 2, 4, 8, 16, 32]), rng.choice([1, 1, 1, 2])
        out = (size + 2 * (k // 2) - k) // stride + 1
        macs, cols = n * c_out * c_in * out * out * k * k, 4 * n * c_in * k * k * out * out
        if k <= size and macs <= budget and cols <= 256 << 20:
            shapes.append(((n, c_in, size, c_out, k), stride))
    return shapes


def _regret(shapes: list[tuple[Shape, int]], rounds: int, min_round: float) -> list[dict]:
    """Per shape: forward seconds of im2col, fft, winograd (3x3, stride 1) and auto, and auto's pick."""
    out = []
    for dims, stride in shapes:
        x, w, _, _ = _tensors(dims, 2)
        pad, k = dims[4] // 2, dims[4]
        names = ["im2col", "fft", "auto"] + (["winograd"] if stride == 1 and supports((k, k), (1, 1), (1, 1)) else [])
        calls = {m: functools.partial(cf.conv2d, x, w, stride=stride, padding=pad, method=m) for m in names}
        times = interleaved(calls, rounds, min_round)
        padded = (dims[0], dims[1], dims[2] + 2 * pad, dims[2] + 2 * pad)
        terms = registry.costs(padded, w.shape, (stride, stride))
        pick = registry.choose_method(padded, w.shape, (stride, stride))
        out.append({"dims": dims, "stride": stride, "times": times, "pick": pick, "terms": terms})
    return out


def fit_constants(samples: list[dict]) -> dict[str, float]:
    """Refit the constants of the ``"auto"`` rule to measured im2col and FFT times.

    im2col's time is modelled as ``a * macs + b * copy + c0`` and FFT's as
    ``c * transforms + e * mixing + f0`` (non-negative least squares on relative error, ``c0`` and
    ``f0`` the fixed cost of one call); the constants are in units of one multiply-add, ``a``:
    ``COPY = b / a``, ``FFT_POINT = c / a``, ``SPECTRAL_MAC = e / a``, ``FFT_CALL = (f0 - c0) / a``.

    Args:
        samples: entries of the regret sweep, with ``times`` and the cost model's ``terms``.

    Returns:
        the four constants.

    Shapes:
        none.
    """
    from scipy.optimize import nnls

    def solve(terms: Sequence[str], method: str) -> np.ndarray:
        a = np.array([[s["terms"][t] / s["times"][method] for t in terms] for s in samples])
        return nnls(a, np.ones(len(samples)))[0]

    (mac, copy, direct_call), (point, mixing, fft_call) = (
        solve(("macs", "copy", "call"), "im2col"),
        solve(("transforms", "mixing", "call"), "fft"),
    )
    return {
        "COPY": copy / mac,
        "FFT_POINT": point / mac,
        "SPECTRAL_MAC": mixing / mac,
        "FFT_CALL": (fft_call - direct_call) / mac,
    }


def regret_with(samples: list[dict], constants: dict[str, float]) -> list[float]:
    """For each shape: the measured time of the method these constants pick, over the best measured time."""
    out = []
    for s in samples:
        pick = "fft" if registry.prefers_fft(s["terms"], constants) else "im2col"
        out.append(s["times"][pick] / min(v for m, v in s["times"].items() if m != "auto"))
    return out


def crossover(kernels: Sequence[int], times: dict[str, list[float]], method: str = "fft") -> int | None:
    """The smallest kernel size from which ``method`` stays faster than torch, or ``None``.

    Args:
        kernels: the kernel sizes swept, ascending.
        times: name -> seconds per kernel size; needs ``"torch"`` and ``method``.
        method: the candidate to compare with torch.

    Returns:
        the crossover kernel size.

    Shapes:
        ``len(times[name]) == len(kernels)``.
    """
    faster = [t < ref for t, ref in zip(times[method], times["torch"])]
    for i in range(len(kernels)):
        if all(faster[i:]):
            return kernels[i]
    return None


def _ratio(rows: list[Row], label: str, method: str, backward: bool = False) -> float | None:
    """``method`` 's time over torch's on shape ``label``, or None where it was not measured."""
    got = {r.method: (r.fwdbwd if backward else r.fwd) for r in rows if r.shape == label}
    mine, ref = got.get(method), got.get("torch")
    return None if mine is None or ref is None else mine / ref


def _summary(rows: list[Row], long: list[Row], regret: list[dict], fitted: dict[str, float]) -> dict:
    """The goals of the convlib issue, as measured ratios (``None`` where a shape was not run)."""
    in_use = registry.constants()
    as_run = [s["times"]["auto"] / min(v for m, v in s["times"].items() if m != "auto") for s in regret]
    refit = regret_with(regret, fitted)  # not run: the measured time of the method the refitted rule picks
    peer_speedup = {}
    for label in dict.fromkeys(r.shape for r in long):
        times = {r.method: r.fwd for r in long if r.shape == label}
        peer_speedup[label] = min(times[p] for p in PEERS if p in times) / times["fft"]
    for label in dict.fromkeys(r.shape for r in rows):
        times = {r.method: r.fwd for r in rows if r.shape == label}
        if "fft-conv-pytorch" in times:
            peer_speedup[label] = times["fft-conv-pytorch"] / times["fft"]
    return {
        "im2col_fwd": {s: _ratio(rows, s, "im2col") for s in ("S1", "S2", "S3")},
        "fft_fwd": {s: _ratio(rows, s, "fft") for s in ("S4", "S5")},
        "auto_fwd": {r.shape: _ratio(rows, r.shape, "auto") for r in rows if r.method == "auto"},
        "fft_speedup_over_faster_peer": peer_speedup,
        "regret_median": statistics.median(as_run),
        "regret_max": max(as_run),
        "regret_median_refit": statistics.median(refit),
        "regret_max_refit": max(refit),
        "constants_in_use": in_use,
        "constants_fitted": fitted,
    }


def _machine(threads: int, gflops: float) -> dict:
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {
        "torch": torch.__version__,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
        "sgemm_gflops": gflops,
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(result: dict) -> str:
    """The report: the layer table, the 1-D peers, the sweep, grouped layers, auto's regret, the goals."""
    m, rows = result["machine"], [Row(**r) for r in result["rows"]]
    lines = [
        "# Convolution benchmark (`python tools/bench.py`)",
        "",
        f"torch {m['torch']}, {m['cpu']}, {m['threads']} threads of {m['cores']} cores, "
        f"OMP_WAIT_POLICY={m['omp_wait_policy']}; sgemm ceiling (2048² float32 matmul): "
        f"{m['sgemm_gflops']:.1f} GFLOP/s. Shapes are (N, C_in, H=W, C_out, k) with padding k//2, stride 1. "
        "Ratios are time / torch's time in the same run (< 1 is faster than torch).",
        "",
        "| shape | method | fwd ms | fwd ÷ torch | fwd+bwd ms | fwd+bwd ÷ torch | GFLOP/s (fwd) | % sgemm |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        both = "—" if r.fwdbwd is None else f"{r.fwdbwd * 1e3:.3f}"
        rate = flops(r.dims) / r.fwd / 1e9
        fwd, fwdbwd = _fmt(_ratio(rows, r.shape, r.method)), _fmt(_ratio(rows, r.shape, r.method, True))
        lines.append(
            f"| {r.shape} {tuple(r.dims)} | {r.method} | {r.fwd * 1e3:.3f} | {fwd} | {both} | {fwdbwd} "
            f"| {rate:.1f} | {100 * rate / m['sgemm_gflops']:.0f} |"
        )
    long = [Row(**r) for r in result["long"]]
    lines += [
        "",
        "## 1-D long kernels against the peer FFT convolutions",
        "",
        "(N, C_in, L, C_out, k), padding k//2. Error: largest |difference| from F.conv1d in float64.",
        "",
        "| shape | method | fwd ms | fwd ÷ torch | max error |",
        "|---|---|---:|---:|---:|",
    ]
    for r in long:
        ratio = _fmt(_ratio(long, r.shape, r.method))
        lines.append(f"| {r.shape} {tuple(r.dims)} | {r.method} | {r.fwd * 1e3:.2f} | {ratio} | {r.error:.1e} |")
    sweep = result["sweep"]
    lines += ["", f"## Kernel-size sweep: one {sweep['size']}² channel, padding k//2", ""]
    names = [n for n in sweep if n not in ("size", "kernels")]
    lines += ["| k | " + " | ".join(f"{n} ms" for n in names) + " | fft ÷ torch |", "|---" * (len(names) + 2) + "|"]
    for i, k in enumerate(sweep["kernels"]):
        cells = " | ".join(f"{sweep[n][i] * 1e3:.3f}" for n in names)
        lines.append(f"| {k} | {cells} | {sweep['fft'][i] / sweep['torch'][i]:.2f} |")
    cross = result["crossover"]
    lines += ["", f"FFT overtakes F.conv2d from k = {cross} on." if cross else "FFT never overtakes F.conv2d here."]
    lines += [
        "",
        "## Grouped, depthwise and pointwise layers",
        "",
        "| layer | groups | MACs (M) | MB moved | MACs / byte | torch ms | torch GFLOP/s | convlib auto ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in result["grouped"]:
        rate = 2 * g["macs"] / g["torch_ms"] / 1e6
        lines.append(
            f"| {g['layer']} | {g['groups']} | {g['macs'] / 1e6:.1f} | {g['bytes'] / 1e6:.1f} | "
            f"{g['macs'] / g['bytes']:.1f} | {g['torch_ms']:.3f} | {rate:.1f} | {g['auto_ms']:.3f} |"
        )
    s = result["summary"]
    lines += [
        "",
        '## How close `method="auto"` comes to the best method',
        "",
        f"Over {len(result['regret'])} shapes (kernel 1-31, sizes 16-256, channels 1-128, batch 1-32, stride 1-2): "
        f"auto's time ÷ the best method's time has median {s['regret_median']:.2f} and maximum {s['regret_max']:.2f} "
        f"with the constants in use; the constants refitted on this run would give median "
        f"{s['regret_median_refit']:.2f} and maximum {s['regret_max_refit']:.2f}.",
        "",
        "| constant | in use | refitted |",
        "|---|---:|---:|",
    ]
    for name, value in s["constants_in_use"].items():
        lines.append(f"| {name} | {value:.1f} | {s['constants_fitted'][name]:.1f} |")
    lines += [
        "",
        "| shape (N, C_in, size, C_out, k) | stride | auto picks | im2col ms | fft ms | winograd ms | auto ÷ best |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for e in result["regret"]:
        t = e["times"]
        best = min(v for k, v in t.items() if k != "auto")
        lines.append(
            f"| {tuple(e['dims'])} | {e['stride']} | {e['pick']} | {t['im2col'] * 1e3:.3f} | "
            f"{t['fft'] * 1e3:.3f} | {_fmt(t.get('winograd') and t['winograd'] * 1e3, 3)} | {t['auto'] / best:.2f} |"
        )
    return "\n".join(lines) + "\n"


def _plot(result: dict, path: Path) -> None:
    """Left: forward time / torch per shape and method. Right: the kernel-size sweep."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    rows = [Row(**r) for r in result["rows"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=120)
    shapes = list(dict.fromkeys(r.shape for r in rows))
    names = [m for m in _COLOR if any(r.method == m for r in rows)]
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        got = {s: _ratio(rows, s, name) for s in shapes}
        xs = [i + j * width for i, s in enumerate(shapes) if got[s] is not None]
        left.bar(xs, [got[s] for s in shapes if got[s] is not None], width, label=name, color=_COLOR[name])
    left.set(yscale="log", ylabel="forward time / F.conv2d", xticks=[i + 0.4 - width / 2 for i in range(len(shapes))])
    left.set_xticklabels(shapes)
    left.axhline(1.0, color="black", linewidth=0.8)
    left.legend(fontsize=7, ncol=2)
    sweep = result["sweep"]
    for name in (n for n in sweep if n not in ("size", "kernels")):
        right.plot(sweep["kernels"], [t * 1e3 for t in sweep[name]], marker="o", label=name, color=_COLOR[name])
    right.set(yscale="log", xlabel="kernel size k", ylabel="forward ms", title=f"one {sweep['size']}² channel")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(quick: bool, threads: int, rounds: int, min_round: float) -> dict:
    """Every measurement of the report, as plain data (what ``conv_benchmark.json`` holds)."""
    torch.set_num_threads(threads)
    if quick:
        rounds, min_round = 2, 0.001
    gemm = 256 if quick else 2048
    gflops = _sgemm_gflops(gemm, rounds, min_round)
    rows = _measure(QUICK["shapes"] if quick else SHAPES, rounds, min_round)
    long = _measure_long(QUICK["long"] if quick else LONG, rounds, min_round)
    size, kernels = (16, (3, 5)) if quick else (SWEEP_SIZE, SWEEP_KERNELS)
    times = _sweep(size, kernels, rounds, min_round)
    sweep = {"size": size, "kernels": list(kernels), **times}
    grouped = _measure_grouped(
        {k: ((1, 8, 12, 8, 3), v[1] // 8 or 1) for k, v in GROUPED.items()} if quick else GROUPED, rounds, min_round
    )
    regret = _regret(regret_shapes(4, budget=1e6) if quick else regret_shapes(), max(2, rounds // 2), min_round)
    gflops = max(gflops, _sgemm_gflops(gemm, rounds, min_round))  # the ceiling: best of start and end
    result = {
        "machine": _machine(threads, gflops),
        "rows": [asdict(r) for r in rows],
        "long": [asdict(r) for r in long],
        "sweep": sweep,
        "crossover": crossover(kernels, times),
        "grouped": grouped,
        "regret": regret,
    }
    result["summary"] = _summary(rows, long, regret, fit_constants(regret))
    return result


def main(argv: Sequence[str] | None = None) -> str:
    """Run the benchmark and write the report, the data and the figure; returns the markdown (or the bandwidth line)."""
    parser = argparse.ArgumentParser(prog="python tools/bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks"), help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few rounds: a smoke run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per candidate (best kept)")
    parser.add_argument("--min-round", type=float, default=0.03, help="seconds per timed round")
    parser.add_argument("--suite", choices=("all", "bandwidth"), default="all", help="bandwidth: only bandwidth.json")
    args = parser.parse_args(argv)
    if args.suite == "bandwidth":
        data = run_bandwidth(args.quick, args.threads, args.rounds, args.min_round)
        data["roofline_sgemm_gflops"] = committed_sgemm(args.out)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bandwidth.json").write_text(json.dumps(data, indent=1) + "\n")
        m = data["machine"]
        return (
            f"copy {data['copy_gbs']:.1f} GB/s, triad {data['triad_gbs']:.1f} GB/s, "
            f"sgemm {m['sgemm_gflops']:.1f} GFLOP/s ({m['cpu']}, {m['threads']} threads)"
        )
    # fft-conv-pytorch indexes with a list, which torch deprecates; the peer still computes the right thing
    warnings.filterwarnings("ignore", "Using a non-tuple sequence", UserWarning)
    result = run(args.quick, args.threads, args.rounds, args.min_round)
    report = markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "conv_benchmark.md").write_text(report)
    (args.out / "conv_benchmark.json").write_text(json.dumps(result, indent=1) + "\n")
    summary = result["summary"]
    cost = {"in_use": summary["constants_in_use"], "fitted": summary["constants_fitted"]}
    (args.out / "auto_cost.json").write_text(json.dumps(cost, indent=1) + "\n")
    _plot(result, args.out / "conv_benchmark.png")
    onednn.write(args.out, args.quick, args.threads)  # which kernel F.conv2d ran: no timing, a log
    return report


if __name__ == "__main__":
    print(main())
