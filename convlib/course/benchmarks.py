"""The committed benchmark, as the chapters show it: never a timing taken while a notebook runs.

``tools/bench.py`` writes ``benchmarks/conv_benchmark.md`` (tables) and ``conv_benchmark.json``
(every number) on a quiet machine, ``bandwidth.json`` (the memory-bandwidth suite; see
:func:`bandwidth`) and ``conv_impl.json`` (which kernel torch ran; see :func:`implementations`). A
chapter displays a section of those files with :func:`section` or reads the numbers with :func:`load`;
what it displays carries a marker naming its source, and ``tests/test_benchmarks_shown.py`` fails
when a notebook shows text that the committed files no longer contain (a benchmark rerun without
re-executing the chapter).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- shown from benchmarks/conv_benchmark.md -->"


@dataclass(frozen=True)
class Shown:
    """Markdown from the committed report; a notebook renders it as a table."""

    title: str
    text: str

    def _repr_markdown_(self) -> str:
        return f"{MARKER}\n{self.text}"

    def __repr__(self) -> str:  # what nbval compares as text/plain, and what a terminal prints
        return f"benchmarks/conv_benchmark.md, section {self.title!r} ({len(self.text.splitlines())} lines)"


def find_folder(start: Path | None = None) -> Path:
    """The repository's ``benchmarks/``, found from ``start`` upwards: what every reader here uses by default.

    A chapter runs in its own folder, the tests and tools in the repository root; both find the
    folder above them. convlib installed elsewhere has no benchmark beside it: pass ``folder=`` to
    :func:`load` and the others, or run from inside the repository.

    Args:
        start: where to look first; the working directory by default.

    Returns:
        the first ``benchmarks/`` holding ``conv_benchmark.json``, in ``start`` or a folder above it.

    Raises:
        FileNotFoundError: there is none; the message says what to pass instead.

    >>> (find_folder() / "conv_benchmark.json").is_file()
    True
    """
    here = (Path.cwd() if start is None else start).resolve()
    for parent in (here, *here.parents):
        if (parent / "benchmarks" / "conv_benchmark.json").is_file():
            return parent / "benchmarks"
    raise FileNotFoundError(
        f"benchmarks: no benchmarks/conv_benchmark.json in {here} or a folder above it; run from inside the "
        "course repository, or pass folder= the folder that `make bench` writes"
    )


def _read(name: str, folder: Path | None) -> str:
    path = (find_folder() if folder is None else folder) / name
    if not path.is_file():
        raise FileNotFoundError(f"benchmarks: {path} does not exist; run `make bench` to write it")
    return path.read_text(encoding="utf-8")


def section(title: str, folder: Path | None = None) -> Shown:
    """One section of ``conv_benchmark.md``: its heading's body, up to the next heading.

    Args:
        title: the heading's text without ``#`` (``""`` for the part before the first ``##``).
        folder: where the report is; :func:`find_folder` by default.

    Returns:
        the section, which a notebook displays as markdown.

    Raises:
        ValueError: no section has that title.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "conv_benchmark.md").write_text("# Bench\\nintro\\n## Peers\\n| a |\\n")
    ...     section("Peers", Path(d)).text
    '| a |'
    """
    parts: dict[str, list[str]] = {"": []}
    current = ""
    for line in _read("conv_benchmark.md", folder).splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            parts[current] = []
        elif not line.startswith("# "):
            parts[current].append(line)
    if title not in parts:
        raise ValueError(f"section: title must be one of {sorted(parts)}, got {title!r}")
    return Shown(title, "\n".join(parts[title]).strip())


def load(folder: Path | None = None) -> dict[str, Any]:
    """Every number of the committed run (``conv_benchmark.json``), for figures and derived quantities.

    Args:
        folder: where the data is; :func:`find_folder` by default.

    Returns:
        the run as plain data, with the keys ``machine``, ``rows``, ``long``, ``sweep``, ``crossover``, ``grouped``,
        ``regret`` and ``summary``.

    >>> sorted(load()["machine"])[:3]
    ['cores', 'cpu', 'omp_wait_policy']
    """
    result: dict[str, Any] = json.loads(_read("conv_benchmark.json", folder))
    return result


def bandwidth(folder: Path | None = None) -> dict[str, Any]:
    """The committed memory-bandwidth run (``bandwidth.json``, from ``python tools/bench.py --suite bandwidth``).

    Args:
        folder: where the data is; :func:`find_folder` by default.

    Returns:
        ``copy_gbs`` and ``triad_gbs`` (STREAM-style kernels, GB/s), ``array_mib`` and ``machine``, whose
        ``sgemm_gflops`` is the matrix-product ceiling measured in the same process, and
        ``roofline_sgemm_gflops``, the main run's ceiling (``conv_benchmark.json``) that the roofline uses.

    >>> sorted(bandwidth())
    ['array_mib', 'copy_gbs', 'machine', 'roofline_sgemm_gflops', 'triad_gbs']
    """
    result: dict[str, Any] = json.loads(_read("bandwidth.json", folder))
    return result


def implementations(folder: Path | None = None) -> dict[str, Any]:
    """Which kernel ``F.conv2d`` ran for each benchmark shape (``conv_impl.json``, from ``tools/onednn.py``).

    Args:
        folder: where the data is; :func:`find_folder` by default.

    Returns:
        ``cpu`` (model and vector extensions of the CPU that produced it), ``torch``, ``threads``, and ``rows``:
        one per shape and instruction-set cap, with the oneDNN implementation (None where torch did not call
        oneDNN) and the aten convolution ops that ran.

    >>> {row["cap"] for row in implementations()["rows"]} >= {"native"}
    True
    """
    result: dict[str, Any] = json.loads(_read("conv_impl.json", folder))
    return result
