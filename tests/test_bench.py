"""The benchmark's smoke mode writes its table and figure (no timing assertions: this is not a benchmark)."""

from __future__ import annotations

from pathlib import Path

from tools import bench


def test_quick_run_writes_table_and_plot(tmp_path: Path) -> None:
    report = bench.main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "conv_benchmark.md").read_text() == report
    assert (tmp_path / "conv_benchmark.png").stat().st_size > 0
    for shape in bench.QUICK_SHAPES:
        for method in ("torch", "loops", "im2col", "fft", "auto"):
            assert f"| {shape} {bench.QUICK_SHAPES[shape]} | {method} |" in report
    assert "| Q1 (2, 3, 12, 4, 3) | winograd |" in report  # 3x3 only
    assert "| Q2 (1, 1, 16, 1, 5) | scipy |" in report  # single channel only
    assert "Kernel-size sweep" in report


def test_crossover_is_where_fft_stays_faster() -> None:
    times = {"torch": [1.0, 2.0, 3.0, 4.0], "fft": [2.0, 1.0, 4.0, 1.0]}
    assert bench.crossover([3, 5, 7, 9], times) == 9
    assert bench.crossover([3, 5], {"torch": [1.0, 1.0], "fft": [2.0, 2.0]}) is None
