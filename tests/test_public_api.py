"""The chapters use convlib through its public names only, and every module they use is in the API reference.

A name that starts with ``_`` may change without notice, so a chapter must neither import one nor
show one with ``{literalinclude}`` (``:pyobject:``): what a chapter shows is documented, stable API.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import NOTEBOOKS, ROOT, load, source

INCLUDE = re.compile(r"```\{literalinclude\}\s+(\S+)\s*\n((?::[\w-]+:.*\n)*)")
PENDING = {  # notebook -> why it may still break the rule; strict: remove the entry once it holds
    "chapters/09-training-a-cnn/09-training-a-cnn.ipynb": "includes train._epochs; renamed with the training loop"
}


def _private(name: str) -> bool:
    """Whether a dotted name has a part that starts with ``_`` (dunders such as ``__call__`` are public)."""
    return any(part.startswith("_") and not (part.startswith("__") and part.endswith("__")) for part in name.split("."))


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every import statement in the notebook's code cells."""
    found: list[tuple[str, list[str]]] = []
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(source(cell))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                found.append((node.module, [alias.name for alias in node.names]))
            elif isinstance(node, ast.Import):
                found.extend((alias.name, []) for alias in node.names)
    return found


def _includes(path: Path) -> list[tuple[str, str]]:
    """``(file, pyobject)`` for every ``{literalinclude}`` in the notebook's markdown cells."""
    found = []
    for cell in load(path)["cells"]:
        if cell["cell_type"] == "markdown":
            for target, options in INCLUDE.findall(source(cell) + "\n"):
                pyobject = re.search(r":pyobject:\s*(\S+)", options)
                found.append((target, pyobject.group(1) if pyobject else ""))
    return found


def _marks(path: Path) -> list[pytest.MarkDecorator]:
    reason = PENDING.get(str(path.relative_to(ROOT)))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


CASES = [pytest.param(p, id=str(p.relative_to(ROOT)), marks=_marks(p)) for p in NOTEBOOKS]


@pytest.mark.parametrize("path", CASES)
def test_no_chapter_imports_or_shows_a_private_name(path: Path) -> None:
    private = [f"import {m}: {names}" for m, names in _imports(path) if _private(m) or any(map(_private, names))]
    private += [
        f"literalinclude {f} :pyobject: {o}" for f, o in _includes(path) if _private(Path(f).stem) or _private(o)
    ]
    assert not private, private


def test_the_rule_sees_imports_and_includes() -> None:
    # the parsers above find what chapter 05 imports and shows, so an empty list means something
    path = ROOT / "chapters" / "05-computing-convolution" / "05-direct-and-im2col.ipynb"
    assert ("convlib.algorithms", ["Geometry", "im2col", "loops", "plain"]) in _imports(path)
    assert ("../../convlib/algorithms/loops.py", "over_taps") in _includes(path)
    assert _private("convlib.algorithms._fast") and _private("_epochs") and not _private("Streamer.__call__")
