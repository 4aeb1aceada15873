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

This file is the command line and the order of the run; the parts are ``tools/timing.py`` (how a call
is timed), ``tools/bench_suites.py`` (suites 1-4), ``tools/costmodel.py`` (suite 5 and the refit) and
``tools/bench_report.py`` (the tables and the figure).
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

if not __package__:  # run as a script (python tools/bench.py): make the repository importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import bench_report, onednn
from tools import bench_suites as suites
from tools.costmodel import fit_constants, measure_regret, regret_shapes
from tools.machine import cpu_name
from tools.timing import BANDWIDTH_MIB, settle_allocator, sgemm_gflops, stream_bandwidth


def machine(threads: int, gflops: float) -> dict:
    """The run's conditions, as the report states them: torch, the CPU, threads, the sgemm ceiling."""
    return {
        "torch": torch.__version__,
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
        "sgemm_gflops": gflops,
    }


def run_bandwidth(quick: bool, threads: int, rounds: int, min_round: float) -> dict:
    """The bandwidth suite: copy and triad GB/s, and the sgemm ceiling measured in the same process."""
    torch.set_num_threads(threads)
    settle_allocator()
    if quick:
        rounds, min_round = 2, 0.001
    gemm, mib = (256, 1) if quick else (2048, BANDWIDTH_MIB)
    gflops = sgemm_gflops(gemm, rounds, min_round)
    stream = stream_bandwidth(mib, rounds, min_round)
    gflops = max(gflops, sgemm_gflops(gemm, rounds, min_round))  # best of start and end, as in the main run
    return {"machine": machine(threads, gflops), "array_mib": mib, **stream}


def committed_sgemm(folder: Path) -> float | None:
    """The sgemm ceiling of the main run committed in ``folder`` (the roofline's peak), or None if there is none."""
    path = folder / "conv_benchmark.json"
    return json.loads(path.read_text())["machine"]["sgemm_gflops"] if path.is_file() else None


def run(quick: bool, threads: int, rounds: int, min_round: float) -> dict:
    """Every measurement of the report, as plain data (what ``conv_benchmark.json`` holds)."""
    torch.set_num_threads(threads)
    settle_allocator()
    if quick:
        rounds, min_round = 2, 0.001
    gemm = 256 if quick else 2048
    gflops = sgemm_gflops(gemm, rounds, min_round)
    rows = suites.measure(suites.QUICK["shapes"] if quick else suites.SHAPES, rounds, min_round)
    long = suites.measure_long(suites.QUICK["long"] if quick else suites.LONG, rounds, min_round)
    size, kernels = (16, (3, 5)) if quick else (suites.SWEEP_SIZE, suites.SWEEP_KERNELS)
    times = suites.sweep(size, kernels, rounds, min_round)
    layers = {k: ((1, 8, 12, 8, 3), v[1] // 8 or 1) for k, v in suites.GROUPED.items()} if quick else suites.GROUPED
    grouped = suites.measure_grouped(layers, rounds, min_round)
    regret = measure_regret(regret_shapes(4, budget=1e6) if quick else regret_shapes(), max(2, rounds // 2), min_round)
    gflops = max(gflops, sgemm_gflops(gemm, rounds, min_round))  # the ceiling: best of start and end
    result = {
        "machine": machine(threads, gflops),
        "rows": [asdict(r) for r in rows],
        "long": [asdict(r) for r in long],
        "sweep": {"size": size, "kernels": list(kernels), **times},
        "crossover": suites.crossover(kernels, times),
        "grouped": grouped,
        "regret": regret,
    }
    result["summary"] = bench_report.summary(rows, long, regret, fit_constants(regret))
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
    report = bench_report.markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "conv_benchmark.md").write_text(report)
    (args.out / "conv_benchmark.json").write_text(json.dumps(result, indent=1) + "\n")
    summary = result["summary"]
    cost = {"in_use": summary["constants_in_use"], "fitted": summary["constants_fitted"]}
    (args.out / "auto_cost.json").write_text(json.dumps(cost, indent=1) + "\n")
    bench_report.plot(result, args.out / "conv_benchmark.png")
    onednn.write(args.out, args.quick, args.threads)  # which kernel F.conv2d ran: no timing, a log
    return report


if __name__ == "__main__":
    print(main())
