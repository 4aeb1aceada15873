"""The benchmark tool: its smoke mode writes every file, and its arithmetic (no timing assertions: not a benchmark).

The tool is tools/bench.py (the command line), with tools/timing.py, tools/bench_suites.py, tools/costmodel.py
and tools/bench_report.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convlib.algorithms import registry
from tools import bench, bench_suites, costmodel


def test_quick_run_writes_report_data_and_plot(tmp_path: Path) -> None:
    report = bench.main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "conv_benchmark.md").read_text() == report
    assert (tmp_path / "conv_benchmark.png").stat().st_size > 0
    data = json.loads((tmp_path / "conv_benchmark.json").read_text())
    for shape, dims in bench_suites.QUICK["shapes"].items():
        for method in ("torch", "loops", "im2col", "fft", "auto"):
            assert f"| {shape} {dims} | {method} |" in report
    assert "| Q1 (2, 3, 12, 4, 3) | winograd |" in report  # 3x3 only
    assert "| Q2 (1, 1, 16, 1, 5) | scipy |" in report  # single channel only
    peers = {r["method"]: r["error"] for r in data["long"]}
    assert set(peers) == {"torch", "fft", "auto", "fft-conv-pytorch", "julius"}
    assert all(error < 1e-3 for error in peers.values())  # every candidate computes the same correlation
    assert len(data["grouped"]) == len(bench_suites.GROUPED) and len(data["regret"]) == 4
    cost = json.loads((tmp_path / "auto_cost.json").read_text())
    assert cost["in_use"] == registry.constants()
    assert "Kernel-size sweep" in report and "auto's time ÷ the best method's time" in report
    impl = json.loads((tmp_path / "conv_impl.json").read_text())  # which kernel F.conv2d ran, one probe
    assert [(row["shape"], row["cap"]) for row in impl["rows"]] == [("Q1", "native")]


def test_crossover_is_where_fft_stays_faster() -> None:
    times = {"torch": [1.0, 2.0, 3.0, 4.0], "fft": [2.0, 1.0, 4.0, 1.0]}
    assert bench_suites.crossover([3, 5, 7, 9], times) == 9
    assert bench_suites.crossover([3, 5], {"torch": [1.0, 1.0], "fft": [2.0, 2.0]}) is None


def test_regret_shapes_are_fixed_and_within_budget() -> None:
    shapes = costmodel.regret_shapes()
    assert shapes == costmodel.regret_shapes() and len(shapes) == 30
    kernels = {dims[4] for dims, _ in shapes}
    assert min(kernels) <= 3 and max(kernels) >= 21  # spread over small and large kernels
    for (n, c_in, size, c_out, k), stride in shapes:
        out = (size + 2 * (k // 2) - k) // stride + 1
        assert n * c_out * c_in * out * out * k * k <= 4e8


def test_fit_recovers_the_constants_of_a_synthetic_machine() -> None:
    # times made by the cost model itself, 2 ns per multiply-add: the fit must return its constants
    truth = {"COPY": 30.0, "FFT_POINT": 8.0, "SPECTRAL_MAC": 50.0, "FFT_CALL": 2e4}
    samples = []
    for dims, stride in costmodel.regret_shapes(12):
        padded = (dims[0], dims[1], dims[2] + 2 * (dims[4] // 2), dims[2] + 2 * (dims[4] // 2))
        terms = registry.costs(padded, (dims[3], dims[1], dims[4], dims[4]), (stride, stride))
        im2col = 2e-9 * (terms["macs"] + truth["COPY"] * terms["copy"])
        fft = 2e-9 * (
            truth["FFT_POINT"] * terms["transforms"] + truth["SPECTRAL_MAC"] * terms["mixing"] + truth["FFT_CALL"]
        )
        samples.append({"terms": terms, "times": {"im2col": im2col, "fft": fft, "auto": min(im2col, fft)}})
    fitted = costmodel.fit_constants(samples)
    for name, value in truth.items():
        assert fitted[name] == pytest.approx(value, rel=1e-6)
    assert costmodel.regret_with(samples, fitted) == pytest.approx([1.0] * len(samples))


def test_bandwidth_suite_writes_only_its_file(tmp_path: Path) -> None:
    line = bench.main(["--suite", "bandwidth", "--quick", "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bandwidth.json"]
    data = json.loads((tmp_path / "bandwidth.json").read_text())
    assert data["array_mib"] == 1 and data["copy_gbs"] > 0 and data["triad_gbs"] > 0
    assert data["roofline_sgemm_gflops"] is None  # no main run in tmp_path
    assert data["machine"]["sgemm_gflops"] > 0 and f"triad {data['triad_gbs']:.1f} GB/s" in line
