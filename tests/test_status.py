"""The status page agrees with the notebooks on disk, and the executor keeps it current."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import NOTEBOOKS, ROOT
from tools.status import DATA, PAGE, describe, render, update_status


def test_status_lists_exactly_the_committed_notebooks_as_executed() -> None:
    data = json.loads((ROOT / DATA).read_text(encoding="utf-8"))
    on_disk = {p.relative_to(ROOT).as_posix() for p in NOTEBOOKS}
    assert set(data) == on_disk, f"status.json and chapters/ differ: {sorted(set(data) ^ on_disk)} (run make execute)"
    for key, entry in data.items():
        described = describe(ROOT / key, entry["seconds"], {k: entry[k] for k in ("torch", "python", "cpu", "threads")})
        assert entry == described, f"{key} changed since its status entry was written (run make execute)"
    assert (ROOT / PAGE).read_text(encoding="utf-8") == render(data), "status.md is not status.json's page"


def test_update_keeps_unchanged_entries_and_drops_removed_notebooks(tmp_path: Path) -> None:
    chapter = tmp_path / "chapters" / "01-a"
    chapter.mkdir(parents=True)
    nb = {"cells": [{"cell_type": "code", "source": "1"}, {"cell_type": "markdown", "source": "x"}]}
    first, second = chapter / "01-a.ipynb", chapter / "01-b.ipynb"
    for path in (first, second):
        path.write_text(json.dumps(nb), encoding="utf-8")
    update_status(tmp_path, [(first, 1.23, True), (second, 2.0, True)])
    data = json.loads((tmp_path / DATA).read_text(encoding="utf-8"))
    assert data["chapters/01-a/01-a.ipynb"]["seconds"] == 1.2 and data["chapters/01-a/01-a.ipynb"]["nbval_cells"] == 1
    second.unlink()
    update_status(tmp_path, [(first, 9.0, False)])  # unchanged: the entry of the run that made the file stays
    data = json.loads((tmp_path / DATA).read_text(encoding="utf-8"))
    assert list(data) == ["chapters/01-a/01-a.ipynb"] and data["chapters/01-a/01-a.ipynb"]["seconds"] == 1.2
    assert "| `chapters/01-a/01-a.ipynb` | 1.2 s |" in (tmp_path / PAGE).read_text(encoding="utf-8")
