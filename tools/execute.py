"""Safe notebook executor: ``python tools/execute.py [--check [--portable]] [--jobs N] [NOTEBOOK ...]``.

papermill never writes in place here. Each notebook runs into a temporary file, with kernel
``python3`` and the notebook's own folder as working directory. Only if every cell succeeds is the
result normalised (papermill's bookkeeping and timing metadata removed) and moved over the original
with an atomic rename. A failure prints the notebook, cell and error, leaves the committed file
byte-identical, and makes the exit status non-zero. Re-executing an unchanged notebook gives a
byte-identical file, because everything that varies between runs is stripped.

``--check`` is the determinism gate: it executes each notebook into a temporary copy, normalises it
exactly as a normal run does, never touches the committed file, and exits non-zero listing every
notebook whose bytes differ from the committed ones, with the cells and outputs that differ. It
catches what nbval cannot: images (nbval does not compare PNGs) and any output that drifts between
runs, as long as the committed notebook was itself produced by this executor.

``--check --portable`` is the different-CPU gate. Run under forced code paths (``make test`` sets
``ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41 OMP_NUM_THREADS=1``), it
re-executes every notebook as another CPU would and requires every text output to match the committed
one exactly and every figure to match within the pixel tolerance of :mod:`tools.compare`.
``--jobs N`` runs N notebooks at a time, each in its own kernel.

A normal run also keeps the book's status page current (``status.json`` and ``status.md``, written by
:func:`tools.status.update_status`).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from tqdm import tqdm

if not __package__:  # run as a script (python tools/execute.py): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.compare import describe_differences
from tools.status import update_status

KERNEL = "python3"
T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]  # the repository: status.json and status.md live here


@dataclass(frozen=True)
class Result:
    """Outcome of executing one notebook."""

    path: Path
    ok: bool
    seconds: float
    size: int  # bytes of the committed file afterwards
    changed: bool  # whether the committed file was rewritten
    error: str = ""


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip what varies between runs: papermill and timing metadata, empty tag lists, and the
    way a kernel happened to split one cell's printed text into several stream messages.

    Args:
        nb: an executed notebook; modified in place.

    Returns:
        the same notebook.

    Shapes:
        not applicable.

    >>> nb = nbformat.v4.new_notebook(metadata={"papermill": {"duration": 1.0}})
    >>> nb.cells.append(nbformat.v4.new_code_cell("1", metadata={"tags": [], "execution": {}}))
    >>> nb.cells[0].outputs = [nbformat.v4.new_output("stream", text=t) for t in ("a\\n", "b\\n")]
    >>> dict(normalise(nb).metadata), dict(nb.cells[0].metadata), nb.cells[0].outputs[0].text
    ({}, {}, 'a\\nb\\n')
    """
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("execution", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags", None) == []:
            del cell.metadata["tags"]
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    return nb


def _coalesce_streams(outputs: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """Merge consecutive stream outputs of the same name (stdout or stderr) into one."""
    merged: list[nbformat.NotebookNode] = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (
            out.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == out.name
        ):
            previous.text += out.text
        else:
            merged.append(out)
    return merged


def execute(path: Path, timeout: int = 600) -> Result:
    """Execute one notebook safely; see the module docstring for the rules.

    Args:
        path: the notebook to run and, on success, update.
        timeout: seconds allowed per cell.

    Returns:
        a :class:`Result`; ``ok`` is False on any failure, and then ``path`` is untouched.

    Shapes:
        not applicable.

    >>> execute(Path("missing.ipynb")).ok  # nothing to run, nothing touched
    False
    """
    start = time.perf_counter()
    if not path.is_file():
        return Result(path, False, 0.0, 0, False, f"{path}: no such notebook")
    original = path.read_bytes()
    text, error = run_normalised(path, timeout)
    if text is None:
        return Result(path, False, time.perf_counter() - start, len(original), False, error)
    changed = text.encode() != original
    if changed:
        # Write next to the original, then rename: atomic on one file system.
        staged = path.with_name(f".{path.name}.tmp")
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, path)
    return Result(path, True, time.perf_counter() - start, path.stat().st_size, changed)


def run_normalised(path: Path, timeout: int = 600) -> tuple[str | None, str]:
    """Execute ``path`` into a temporary copy and return the normalised notebook text.

    The committed file is only read. Both the normal run and ``--check`` use this function, so the
    bytes they compare are produced by exactly the same steps.

    Args:
        path: the notebook to run.
        timeout: seconds allowed per cell.

    Returns:
        ``(text, "")`` on success, with ``text`` what the normal run would write; ``(None, error)``
        on any failure.

    Shapes:
        not applicable.

    >>> run_normalised(Path("missing.ipynb"))[0] is None
    True
    """
    if not path.is_file():
        return None, f"{path}: no such notebook"
    with tempfile.TemporaryDirectory(prefix="convlib-exec-") as tmp:
        out = Path(tmp) / path.name
        try:
            papermill.execute_notebook(
                str(path), str(out), kernel_name=KERNEL, cwd=str(path.parent.resolve()),
                progress_bar=False, execution_timeout=timeout,
            )  # fmt: skip
        except PapermillExecutionError as e:
            return None, f"{path}: cell {e.cell_index} (execution count {e.exec_count}) raised {e.ename}: {e.evalue}"
        except Exception as e:  # kernel died, timeout, invalid JSON: still never touch the original
            return None, f"{path}: execution failed: {type(e).__name__}: {e}"
        nb = normalise(nbformat.read(out, as_version=4))
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n", ""  # nbformat.write adds this newline too


@dataclass(frozen=True)
class Check:
    """Outcome of re-executing one notebook and comparing it with the committed bytes."""

    path: Path
    ok: bool  # executed, and byte-identical to the committed file (or, --portable, within tolerance)
    seconds: float
    differences: tuple[str, ...] = ()  # one line per differing cell or output, or the error
    within_tolerance: bool = False  # ok, though some figure's bytes differ


def check(path: Path, timeout: int = 600, portable: bool = False) -> Check:
    """Re-execute ``path`` into a temporary copy and compare it with the committed file.

    Args:
        path: the committed notebook; it is never written.
        timeout: seconds allowed per cell.
        portable: compare as another CPU may draw it (figures within a tolerance, everything else
            exact) instead of byte for byte.

    Returns:
        a :class:`Check`; ``differences`` names the cells and outputs that differ.

    Shapes:
        not applicable.

    >>> check(Path("missing.ipynb")).ok
    False
    """
    start = time.perf_counter()
    text, error = run_normalised(path, timeout)
    if text is None:
        return Check(path, False, time.perf_counter() - start, (error,))
    committed = path.read_bytes()
    if text.encode() == committed:
        return Check(path, True, time.perf_counter() - start)
    old, new = nbformat.reads(committed.decode("utf-8"), as_version=4), nbformat.reads(text, as_version=4)
    exact = describe_differences(old, new)
    differences = describe_differences(old, new, tolerant=True) if portable else exact
    if exact and not differences:  # only figures differ, and only as another CPU may draw them
        return Check(path, True, time.perf_counter() - start, within_tolerance=True)
    return Check(path, False, time.perf_counter() - start, tuple(differences or ["bytes differ (formatting only)"]))


def find_notebooks(root: Path) -> list[Path]:
    """All chapter notebooks under ``root/chapters``, in file (== table of contents) order.

    Args:
        root: the repository root.

    Returns:
        sorted notebook paths, checkpoints excluded.

    Shapes:
        not applicable.

    >>> find_notebooks(Path("/nonexistent"))
    []
    """
    return sorted(p for p in (root / "chapters").glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python tools/execute.py", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: every chapter)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    parser.add_argument(
        "--check", action="store_true", help="re-execute into a temporary copy; fail if any notebook's bytes drift"
    )
    parser.add_argument(
        "--portable", action="store_true", help="with --check: text exact, figures within the pixel tolerance"
    )
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at a time (default 1)")
    args = parser.parse_args(argv)
    if args.portable and not args.check:
        parser.error("--portable goes with --check")
    if args.jobs < 1:
        parser.error(f"--jobs must be a positive int, got {args.jobs}")
    paths = args.notebooks or find_notebooks(Path())  # relative paths, as the user would type them
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    if args.check:
        return _main_check(paths, args.timeout, args.portable, args.jobs)
    results = _run_all(functools.partial(execute, timeout=args.timeout), paths, args.jobs)
    print(f"\n{'notebook':<60} {'status':>8} {'time':>8} {'size':>9}")
    for r in results:
        status = ("updated" if r.changed else "same") if r.ok else "FAILED"
        print(f"{r.path!s:<60} {status:>8} {r.seconds:7.1f}s {r.size / 1024:7.0f}KB")
    chapters = (ROOT / "chapters").resolve()
    ran = [(r.path, r.seconds, r.changed) for r in results if r.ok and r.path.resolve().is_relative_to(chapters)]
    if ran:
        update_status(ROOT, ran)
    failures = [r for r in results if not r.ok]
    for r in failures:
        print(f"error: {r.error}", file=sys.stderr)
    print(f"{len(results) - len(failures)} executed, {len(failures)} failed")
    return 1 if failures else 0


def _run_all(run: Callable[[Path], T], paths: Sequence[Path], jobs: int) -> list[T]:
    """``run(path)`` for every path, ``jobs`` at a time, each in a process of its own; results in order."""
    with tqdm(total=len(paths), unit="nb", file=sys.stderr, dynamic_ncols=True) as bar:
        if jobs == 1:
            return [(run(p), bar.update())[0] for p in paths]
        with concurrent.futures.ProcessPoolExecutor(jobs) as pool:
            futures = [pool.submit(run, p) for p in paths]
            for _ in concurrent.futures.as_completed(futures):
                bar.update()
            return [f.result() for f in futures]


def _main_check(paths: Sequence[Path], timeout: int, portable: bool, jobs: int) -> int:
    """``--check``: re-execute every notebook, report which ones drift, never write."""
    checks = _run_all(functools.partial(check, timeout=timeout, portable=portable), paths, jobs)
    print(f"\n{'notebook':<60} {'status':>9} {'time':>8}")
    for c in checks:
        status = ("within tolerance" if c.within_tolerance else "identical") if c.ok else "DIFFERS"
        print(f"{c.path!s:<60} {status:>16} {c.seconds:7.1f}s")
    drifting = [c for c in checks if not c.ok]
    for c in drifting:
        print(f"error: {c.path} differs from a fresh execution:", file=sys.stderr)
        for line in c.differences:
            print(f"  {line}", file=sys.stderr)
    tolerated = sum(c.within_tolerance for c in checks)
    counts = [f"{len(checks) - len(drifting) - tolerated} identical", f"{len(drifting)} differ"]
    if portable:
        counts.insert(1, f"{tolerated} within the figure tolerance")
    print(", ".join(counts))
    return 1 if drifting else 0


if __name__ == "__main__":
    raise SystemExit(main())
