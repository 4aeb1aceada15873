"""Speed numbers in the book come from the committed benchmark files, and match them.

Timings never appear in outputs that nbval compares. A chapter shows sections of
``benchmarks/conv_benchmark.md`` through :func:`convlib.course.benchmarks.section`; this test fails
when a notebook shows a section that differs from the committed file (the benchmark was rerun, and
the chapter was not re-executed), and when the committed report and data disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convlib.algorithms import registry
from convlib.course import benchmarks
from tests.helpers import NOTEBOOKS, ROOT, load, source

SHOWING = [p for p in NOTEBOOKS if any("benchmarks" in source(c) for c in load(p)["cells"])]


def test_committed_report_data_and_constants_agree() -> None:
    data = benchmarks.load()
    report = (ROOT / "benchmarks" / "conv_benchmark.md").read_text(encoding="utf-8")
    assert f"{data['machine']['sgemm_gflops']:.1f} GFLOP/s" in report
    for row in data["rows"]:
        assert f"| {row['shape']} {tuple(row['dims'])} | {row['method']} | {row['fwd'] * 1e3:.3f} |" in report
    cost = json.loads((ROOT / "benchmarks" / "auto_cost.json").read_text(encoding="utf-8"))
    # the committed run measured the rule that the code runs
    assert cost["in_use"] == registry.constants()
    assert cost["in_use"] == data["summary"]["constants_in_use"]


def test_auto_constants_lie_near_the_committed_refit() -> None:
    # registry.py's comment: the constants are not the committed fit, but within 15% of each of its values
    fitted = json.loads((ROOT / "benchmarks" / "auto_cost.json").read_text(encoding="utf-8"))["fitted"]
    for name, value in registry.constants().items():
        assert value != fitted[name] and abs(fitted[name] / value - 1) <= 0.15, name


def test_the_benchmark_folder_is_found_from_a_chapter_and_missed_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT / "chapters" / "05-computing-convolution")  # where a chapter runs
    assert benchmarks.find_folder() == ROOT / "benchmarks"
    assert (
        benchmarks.load()["machine"] == json.loads((ROOT / "benchmarks" / "conv_benchmark.json").read_text())["machine"]
    )
    monkeypatch.chdir(tmp_path)  # convlib used outside the repository
    with pytest.raises(FileNotFoundError, match="pass folder="):
        benchmarks.load()
    assert benchmarks.load(ROOT / "benchmarks")["machine"]  # given a folder, it reads it from anywhere


@pytest.mark.parametrize("path", SHOWING, ids=[str(p.relative_to(ROOT)) for p in SHOWING])
def test_shown_sections_match_the_committed_report(path: object) -> None:
    shown = 0
    for cell in load(path)["cells"]:  # type: ignore[arg-type]
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/markdown")
            if text is None:
                continue
            text = "".join(text) if isinstance(text, list) else text
            if text.startswith(benchmarks.MARKER):
                title = next(t for t in _titles() if f"section {t!r}" in "".join(out["data"]["text/plain"]))
                assert text == benchmarks.section(title)._repr_markdown_(), f"section {title!r} is stale"
                shown += 1
    assert shown, f"{path} mentions benchmarks but shows no section of the committed report"


def _titles() -> list[str]:
    report = (ROOT / "benchmarks" / "conv_benchmark.md").read_text(encoding="utf-8")
    return [""] + [line[3:].strip() for line in report.splitlines() if line.startswith("## ")]


def test_roofline_chapter_shows_the_committed_bandwidth() -> None:
    """08-grouped-depthwise draws its roofline from benchmarks/bandwidth.json and the main run's sgemm."""
    stream, data = benchmarks.bandwidth(), benchmarks.load()
    assert stream["roofline_sgemm_gflops"] == data["machine"]["sgemm_gflops"]
    dram = max(stream["copy_gbs"], stream["triad_gbs"])
    path = ROOT / "chapters" / "08-grouped-separable" / "08-grouped-depthwise.ipynb"
    texts = ["".join(out.get("text", "")) for cell in load(path)["cells"] for out in cell.get("outputs", [])]
    line = f"memory bandwidth (STREAM, {stream['array_mib']} MiB arrays): {dram:.1f} GB/s; peak "
    assert any(line + f"{stream['roofline_sgemm_gflops']:.1f} GFLOP/s" in t for t in texts), "stale roofline"
