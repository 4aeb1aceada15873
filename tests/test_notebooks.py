"""Hygiene of every committed chapter notebook: executed, clean, labelled, small, offline, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import CHAPTERS, NAME, NOTEBOOKS, ROOT, load, source, toc_files

MAX_BYTES = 1_000_000
NETWORK = re.compile(
    r"(^|\n)\s*[!%]\s*(pip|curl|wget|git)\b|urlretrieve|urlopen|requests\.(get|post)|download\s*=\s*True"
    r"|torch\.hub|from_pretrained|https?://\S+\.(zip|tar|gz|npz|pt|pth|csv|jpg|png)\b"
)
ids = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_chapter_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks under {CHAPTERS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_executed_without_errors(path: Path) -> None:
    for i, cell in enumerate(code_cells(load(path))):
        if source(cell).strip():
            assert cell.get("execution_count") is not None, f"code cell {i} was never executed"
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        if errors:
            assert "raises-exception" in tags(cell), f"code cell {i} holds an error: {errors[0]['ename']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_execution_counts_run_in_order(path: Path) -> None:
    counts = [c["execution_count"] for c in code_cells(load(path)) if source(c).strip()]
    assert counts == list(range(1, len(counts) + 1)), "cells were not executed top to bottom in one run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_no_papermill_leftovers(path: Path) -> None:
    nb = load(path)
    assert "papermill" not in nb["metadata"]
    for i, cell in enumerate(nb["cells"]):
        meta = cell.get("metadata", {})
        assert "papermill" not in meta and "execution" not in meta, f"cell {i} keeps run metadata"
        assert "injected-parameters" not in tags(cell), f"cell {i} is an injected-parameters cell"
        assert meta.get("tags", None) != [], f"cell {i} has an empty tags list"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_parameters_cell_holds_literals(path: Path) -> None:
    cells = [c for c in code_cells(load(path)) if "parameters" in tags(c)]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    for line in source(cells[0]).splitlines():
        assert re.match(r"^[a-z_][a-z0-9_]* = [^=]+  # \S", line), f"not 'name = literal  # comment': {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_first_cell_is_labelled_title(path: Path) -> None:
    first = load(path)["cells"][0]
    assert first["cell_type"] == "markdown"
    lines = source(first).strip().splitlines()
    assert re.fullmatch(r"\([a-z0-9-]+\)=", lines[0]), f"first line must be a MyST label, got {lines[0]!r}"
    assert lines[1].startswith("# "), f"second line must be the '# Title', got {lines[1]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_imports_from_convlib_and_calls_setup(path: Path) -> None:
    sources = [source(c) for c in code_cells(load(path))]
    assert not any("sys.path" in s for s in sources), "notebooks import convlib as installed, no sys.path edits"
    assert not any(re.search(r"import \*", s) for s in sources), "no star imports"
    imports = next(s for s in sources if "from convlib" in s)
    last = imports.rstrip().splitlines()[-1]
    assert re.fullmatch(r"setup\(seed(, dtype=torch\.float64)?\)(  # .+)?", last), (
        "the imports cell ends with setup(seed)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_small(path: Path) -> None:
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{size} bytes executed; keep notebooks under {MAX_BYTES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_no_network(path: Path) -> None:
    for i, cell in enumerate(code_cells(load(path))):
        match = NETWORK.search(source(cell))
        assert match is None, f"code cell {i} seems to use the network: {match.group(0)!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_figures_are_png(path: Path) -> None:
    for i, cell in enumerate(code_cells(load(path))):
        for out in cell.get("outputs", []):
            assert "image/svg+xml" not in out.get("data", {}), f"code cell {i}: SVG output is not byte-stable"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_layout_and_numbering(path: Path) -> None:
    chapter = path.parent
    assert NAME.match(chapter.name), f"chapter folder {chapter.name!r} is not NN-topic"
    assert NAME.match(path.stem), f"notebook {path.stem!r} is not NN-title"
    assert path.stem[:2] == chapter.name[:2], "a notebook's number is its chapter's number"


def test_toc_order_matches_numbering() -> None:
    entries = [f for f in toc_files() if f.startswith("chapters/")]
    missing = [f for f in entries if not any((ROOT / f).with_suffix(s).is_file() for s in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"
    in_toc = [Path(f) for f in entries if (ROOT / f).with_suffix(".ipynb").is_file()]
    on_disk = [p.relative_to(ROOT).with_suffix("") for p in NOTEBOOKS]
    assert sorted(in_toc) == on_disk, f"_toc.yml and chapters/ differ: {sorted(map(str, set(in_toc) ^ set(on_disk)))}"
    # chapters in number order; within a chapter the toc, not the alphabet, orders the notebooks
    numbers = [int(p.parent.name[:2]) for p in in_toc]
    assert numbers == sorted(numbers), f"_toc.yml lists chapters {numbers}, not in number order"
