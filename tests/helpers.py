"""What several test modules share: where things are, how to read a notebook, the built book, the oracles.

- the repository: :data:`ROOT`, the chapter notebooks (:data:`NOTEBOOKS`), :func:`load`, :func:`source` and
  :func:`toc_files`;
- the built book in ``_build/html`` (:data:`HTML`): :func:`site_is_built` and :func:`require_site`, which
  skip where the book is not built and fail under ``CONVLIB_REQUIRE_SITE=1`` (set by ``make test``);
- the convolution oracles: :func:`reference` (torch's ``nn.ConvNd``) and :func:`ours` (convlib) for a
  :class:`tests.strategies.Case`, their tolerances, :data:`TOL`, and the two paths of convlib's ops,
  :data:`PATHS` (tuned, and ``with plain():``).

The Hypothesis strategies are in tests/strategies.py, the browser in tests/browser.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import torch
import yaml

from convlib import _validate as check
from convlib import functional as cf
from convlib.algorithms import plain
from convlib.geometry import Geometry
from tests.strategies import Case

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = sorted(p for p in CHAPTERS.glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts)
NAME = re.compile(r"^(\d\d)-[a-z0-9-]+$")
HTML = ROOT / "_build" / "html"
NOT_BUILT = "the book is not built (run `make book`)"


# ---------------------------------------------------------------- notebooks


def load(path: Path) -> dict:
    """The notebook as plain JSON (no nbformat upgrades, so we see exactly what is committed)."""
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def toc_files() -> list[str]:
    """Every ``file:`` entry of _toc.yml, in order, without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files


# ---------------------------------------------------------------- the built book


def site_is_built(page: Path = HTML / "index.html") -> bool:
    """Whether the build made ``page``; where it did not, an error under ``CONVLIB_REQUIRE_SITE=1``."""
    if page.is_file():
        return True
    if os.environ.get("CONVLIB_REQUIRE_SITE"):
        raise RuntimeError(f"{page} is missing: the book build did not run or failed")
    return False


def require_site(page: Path = HTML / "index.html") -> None:
    """Skip the calling module where the build did not make ``page`` (fail under ``CONVLIB_REQUIRE_SITE=1``)."""
    if not site_is_built(page):
        pytest.skip(NOT_BUILT, allow_module_level=True)


# ---------------------------------------------------------------- convolution oracles

CONV = {1: cf.conv1d, 2: cf.conv2d, 3: cf.conv3d}
MODULE = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
TOL = {torch.float32: {"rtol": 1e-4, "atol": 1e-4}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}
#: The two paths every oracle test runs: the ops as they are (tuned), and inside ``with plain():``.
PATHS: dict[str, Callable[[], AbstractContextManager[None]]] = {"fast": contextlib.nullcontext, "plain": plain}


def ours(case: Case, method: str, x: torch.Tensor | None = None, w: torch.Tensor | None = None) -> torch.Tensor:
    """convlib's result for ``case``, optionally with substitute tensors (for gradients)."""
    x, w = case.x if x is None else x, case.w if w is None else w
    return CONV[case.n](x, w, case.b, **case.kwargs, padding_mode=case.padding_mode, method=method)


def reference(case: Case, x: torch.Tensor | None = None, w: torch.Tensor | None = None) -> torch.Tensor:
    """torch's result: ``nn.ConvNd`` handles padding_mode (and "same" with it) exactly as specified."""
    x, w = case.x if x is None else x, case.w if w is None else w
    c_out, c_in_g, *kernel = case.w.shape
    module = MODULE[case.n](
        c_in_g * case.kwargs["groups"], c_out, kernel, **case.kwargs, bias=False, padding_mode=case.padding_mode
    )
    params = {"weight": w} if case.b is None else {"weight": w, "bias": case.b}
    return torch.func.functional_call(module, params, (x,))


def zero_padded(case: Case) -> tuple[Case, Geometry]:
    """The case with zero padding (the algorithms pad with zeros only), and its normalised geometry."""
    case = dataclasses.replace(case, padding_mode="zeros", x=case.x if case.x.ndim == case.w.ndim else case.x[None])
    args = check.conv_args("test", case.n, case.x, case.w, None, *case.kwargs.values())
    return case, args.geometry
