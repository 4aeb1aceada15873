"""The book's status page: ``status.json`` (the data) and ``status.md`` (the page rendered from it).

Per notebook it records the committed run's time, size, nbval cells and environment. The executor
(``tools/execute.py``) calls :func:`update_status` after every successful run: a notebook whose file
changed (or that has no entry yet) gets a fresh entry; an unchanged one keeps the entry of the run that
produced it, so re-executing an unchanged book leaves ``git status`` clean. tests/test_status.py fails
when either file disagrees with the notebooks on disk (a notebook added, removed or edited without
re-executing).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from tools.machine import cpu_name

DATA, PAGE = Path("status.json"), Path("status.md")


def environment() -> dict[str, Any]:
    """What the committed outputs depend on: torch and Python versions, the CPU, the thread count.

    The thread count is torch's default in the kernel (one per core unless ``OMP_NUM_THREADS`` says
    otherwise); the printed numbers are rounded so that 1 and 2 threads give the same outputs.
    """
    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS", 0)) or torch.get_num_threads()
    return {"torch": torch.__version__, "python": platform.python_version(), "cpu": cpu_name(), "threads": threads}


def describe(notebook: Path, seconds: float, env: dict[str, Any]) -> dict[str, Any]:
    """One notebook's entry: what the test can check (size, code cells) and what it cannot (time)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = sum(1 for c in cells if c["cell_type"] == "code")  # nbval re-executes and compares each one
    return {"seconds": round(seconds, 1), "bytes": notebook.stat().st_size, "nbval_cells": code, **env}


def update_status(root: Path, runs: list[tuple[Path, float, bool]]) -> None:
    """Record successful runs, ``(notebook, seconds, changed)`` each; drop notebooks gone from disk."""
    data_path = root / DATA
    data: dict[str, Any] = json.loads(data_path.read_text(encoding="utf-8")) if data_path.exists() else {}
    env = environment()
    for notebook, seconds, changed in runs:
        key = notebook.resolve().relative_to(root.resolve()).as_posix()
        fresh = describe(notebook, seconds, env)
        kept = data.get(key, {})
        # an unchanged run keeps its entry, unless the file was edited since (its size or cells differ)
        if changed or any(kept.get(k) != fresh[k] for k in ("bytes", "nbval_cells")):
            data[key] = fresh
    data = {k: data[k] for k in sorted(data) if (root / k).is_file()}
    data_path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    (root / PAGE).write_text(render(data), encoding="utf-8")


def render(data: dict[str, Any]) -> str:
    """The status page, as MyST markdown."""
    lines = [
        "(status)=",
        "# Status of the notebooks",
        "",
        "Every chapter is a notebook executed by `make execute` and stored with its outputs; CI re-executes",
        "each one with nbval and compares every code cell's output with the stored one. This table describes",
        "the committed run of each notebook. It is written by the executor, and a test checks it against the",
        "notebooks on disk.",
        "",
        "| notebook | executes in | size | nbval cells | torch | CPU | threads |",
        "|---|---:|---:|---:|---|---|---:|",
    ]
    for key, e in data.items():
        lines.append(
            f"| `{key}` | {e['seconds']:.1f} s | {e['bytes'] / 1024:.0f} KB | {e['nbval_cells']} | {e['torch']} "
            f"| {e['cpu']} | {e['threads']} |"
        )
    total = sum(e["seconds"] for e in data.values())
    lines += ["", f"{len(data)} notebooks, {total:.0f} s of execution in all, on the machines named above.", ""]
    return "\n".join(lines)
