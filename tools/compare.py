"""How a re-executed notebook differs from the committed one, exactly or as another CPU may draw it.

:func:`describe_differences` names every cell, output and metadata field that differs. With
``tolerant=True`` it is the portable comparison of ``tools/execute.py --check --portable``: every
text output must still match to the byte, and a PNG that differs only as another CPU's rounding can
draw it (:func:`image_difference`) is not reported.

Why images need a tolerance: on another instruction set (AVX2 instead of AVX-512, Intel or AMD)
torch and MKL add float32 products in another order, so a plotted value can move by its last bit. A
handful of pixels then fall on the other side of a colour-map step or an anti-aliasing level, and the
256-colour palette the course's figures are stored in (``convlib.course.notebook.figure_png``) is
chosen anew from the pixels, which shifts many colours by one level. Measured on the book's figures
under forced code paths, the worst case was 0.016 % of pixels off by more than 8 levels of 255; a
changed curve, bar, colour scale or image region changes thousands.
"""

from __future__ import annotations

import base64
import io

import nbformat
import numpy as np
from PIL import Image

#: A pixel differs when one of its R, G, B channels is off by more than this many levels of 255...
IMAGE_LEVELS = 8
#: ...and two renderings of one figure match when they have the same size and at most this share of
#: their pixels differs.
IMAGE_SHARE = 0.001


def image_difference(a: str, b: str) -> str | None:
    """Compare two base64 PNGs as another CPU may draw the same figure.

    Args:
        a: the committed image, base64 as a notebook stores it.
        b: the re-executed image.

    Returns:
        ``None`` when the two are the same size and at most :data:`IMAGE_SHARE` of the pixels differ
        by more than :data:`IMAGE_LEVELS` in a channel; otherwise a one-line description.

    Shapes:
        each image (H, W, 3) once decoded.

    >>> def png(pixels):
    ...     out = io.BytesIO(); Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(out, "PNG")
    ...     return base64.b64encode(out.getvalue()).decode()
    >>> grey = np.full((40, 40, 3), 128)
    >>> image_difference(png(grey), png(grey + 1)) is None  # every pixel one level off: a palette shift
    True
    >>> moved = grey.copy(); moved[10:20, 10:20] = 0  # a 10x10 patch turned black
    >>> image_difference(png(grey), png(moved))
    '6.25% of pixels differ by more than 8 levels (allowed 0.1%)'
    """
    x, y = _pixels(a), _pixels(b)
    if x.shape != y.shape:
        return f"size {x.shape[1]}x{x.shape[0]} committed, {y.shape[1]}x{y.shape[0]} after re-execution"
    share = float((np.abs(x - y).max(axis=-1) > IMAGE_LEVELS).mean())
    if share <= IMAGE_SHARE:
        return None
    return f"{share:.2%} of pixels differ by more than {IMAGE_LEVELS} levels (allowed {IMAGE_SHARE:.1%})"


def _pixels(png: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(png))) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)  # (H, W, 3)


def describe_differences(
    old: nbformat.NotebookNode, new: nbformat.NotebookNode, *, tolerant: bool = False
) -> list[str]:
    """Name every cell, output and metadata field that differs between two versions of a notebook.

    Args:
        old: the committed notebook.
        new: the re-executed one.
        tolerant: pass PNGs that differ only within the tolerance of :func:`image_difference`.

    Returns:
        one human-readable line per difference, cells numbered from 0 as in Jupyter's order.

    Shapes:
        not applicable.

    >>> a = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    >>> b = nbformat.reads(nbformat.writes(a), as_version=4)
    >>> b.cells[0].outputs = [nbformat.v4.new_output("stream", text="1\\n")]
    >>> describe_differences(a, b)
    ['cell 0: 0 outputs committed, 1 after re-execution']
    """
    lines = []
    if old.metadata != new.metadata:
        lines.append("notebook metadata differs")
    if len(old.cells) != len(new.cells):
        lines.append(f"{len(old.cells)} cells committed, {len(new.cells)} after re-execution")
    for i, (a, b) in enumerate(zip(old.cells, new.cells)):
        for field in ("source", "metadata", "execution_count"):
            if a.get(field) != b.get(field):
                lines.append(f"cell {i}: {field} differs")
        outs_a, outs_b = a.get("outputs", []), b.get("outputs", [])
        if len(outs_a) != len(outs_b):
            lines.append(f"cell {i}: {len(outs_a)} outputs committed, {len(outs_b)} after re-execution")
            continue
        for j, (x, y) in enumerate(zip(outs_a, outs_b)):
            if x != y:
                why = _output_difference(x, y, tolerant)
                if why:
                    lines.append(f"cell {i}, output {j} ({x.get('output_type')}): {why}")
    return lines


def _output_difference(x: nbformat.NotebookNode, y: nbformat.NotebookNode, tolerant: bool) -> str:
    """A one-line description of how two outputs differ, or "" when only images differ, within tolerance."""
    if "text" in x and "text" in y:
        return _first_line_difference(x["text"], y["text"])
    data_x, data_y = x.get("data", {}), y.get("data", {})
    changed = sorted(k for k in set(data_x) | set(data_y) if data_x.get(k) != data_y.get(k))
    both_png = "image/png" in data_x and "image/png" in data_y
    if tolerant and changed == ["image/png"] and both_png and x.get("metadata") == y.get("metadata"):
        why = image_difference(data_x["image/png"], data_y["image/png"])
        return "" if why is None else f"image/png: {why}"
    if changed == ["text/plain"]:
        return _first_line_difference(data_x.get("text/plain", ""), data_y.get("text/plain", ""))
    if changed:
        return "data differs in " + ", ".join(changed)
    return "metadata or type differs"


def _first_line_difference(a: str, b: str) -> str:
    for n, (p, q) in enumerate(zip(a.splitlines(), b.splitlines()), start=1):
        if p != q:
            return f"line {n}: {p!r} -> {q!r}"
    return f"{len(a.splitlines())} lines committed, {len(b.splitlines())} after re-execution"
