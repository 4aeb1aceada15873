"""Safe notebook executor: ``python tools/execute.py [NOTEBOOK ...]``.

papermill never writes in place here. Each notebook runs into a temporary file, with kernel
``python3`` and the notebook's own folder as working directory. Only if every cell succeeds is the
result normalised (papermill's bookkeeping and timing metadata removed) and moved over the original
with an atomic rename. A failure prints the notebook, cell and error, leaves the committed file
byte-identical, and makes the exit status non-zero. Re-executing an unchanged notebook gives a
byte-identical file, because everything that varies between runs is stripped.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from tqdm import tqdm

KERNEL = "python3"


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
    with tempfile.TemporaryDirectory(prefix="convlib-exec-") as tmp:
        out = Path(tmp) / path.name
        try:
            papermill.execute_notebook(
                str(path), str(out), kernel_name=KERNEL, cwd=str(path.parent.resolve()),
                progress_bar=False, execution_timeout=timeout,
            )  # fmt: skip
        except PapermillExecutionError as e:
            error = f"{path}: cell {e.cell_index} (execution count {e.exec_count}) raised {e.ename}: {e.evalue}"
            return Result(path, False, time.perf_counter() - start, len(original), False, error)
        except Exception as e:  # kernel died, timeout, invalid JSON: still never touch the original
            error = f"{path}: execution failed: {type(e).__name__}: {e}"
            return Result(path, False, time.perf_counter() - start, len(original), False, error)
        nb = normalise(nbformat.read(out, as_version=4))
        nbformat.validate(nb)
        text = nbformat.writes(nb) + "\n"  # nbformat.write adds this newline too
        changed = text.encode() != original
        if changed:
            # Write next to the original, then rename: atomic on one file system.
            staged = path.with_name(f".{path.name}.tmp")
            staged.write_text(text, encoding="utf-8")
            os.replace(staged, path)
    return Result(path, True, time.perf_counter() - start, path.stat().st_size, changed)


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
    args = parser.parse_args(argv)
    paths = args.notebooks or find_notebooks(Path())  # relative paths, as the user would type them
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    results = []
    for path in (bar := tqdm(paths, unit="nb", file=sys.stderr, dynamic_ncols=True)):
        bar.set_postfix_str(path.name)
        results.append(execute(path, timeout=args.timeout))
    print(f"\n{'notebook':<60} {'status':>8} {'time':>8} {'size':>9}")
    for r in results:
        status = ("updated" if r.changed else "same") if r.ok else "FAILED"
        print(f"{r.path!s:<60} {status:>8} {r.seconds:7.1f}s {r.size / 1024:7.0f}KB")
    failures = [r for r in results if not r.ok]
    for r in failures:
        print(f"error: {r.error}", file=sys.stderr)
    print(f"{len(results) - len(failures)} executed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
