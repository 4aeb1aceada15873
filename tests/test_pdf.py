"""The PDF edition (``make pdf``, tools/pdf.py), read back with poppler's ``pdfinfo`` and ``pdftotext``.

- its page count lies in the expected range (a missing part of the book, or pages printed blank, moves it);
- every chapter's title and every figure's caption (from the notebooks' cell metadata) is in its text;
- no formula is left as raw TeX (every TeX command in the text comes from a code cell's source, where the
  book shows it as code);
- solutions are printed open, and code wraps: no line of the text runs past the page's width;
- the text is printed at its size: no element wider than the paper made Chromium shrink the pages.

``make test`` does not build the PDF (it takes minutes); ``.ci/run`` runs ``make pdf`` and then this test with
``CONVLIB_REQUIRE_PDF=1``, so a missing PDF or a missing poppler fails there instead of skipping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import unicodedata
from functools import cache
from pathlib import Path

import pytest

from tests.helpers import NOTEBOOKS, ROOT
from tools.links import PDF

PATH = ROOT / "_build" / "html" / PDF
PAGES = range(400, 750)  # the book printed on A4: 531 pages when this was written

if not (PATH.is_file() and shutil.which("pdftotext") and shutil.which("pdfinfo")):
    if os.environ.get("CONVLIB_REQUIRE_PDF"):
        raise RuntimeError(f"{PATH} or poppler-utils missing: run `make pdf` (and apt-get install poppler-utils)")
    pytest.skip("the PDF edition is not built (make pdf), or poppler-utils is missing", allow_module_level=True)


QUOTES = str.maketrans("‘’“”", "''\"\"")  # the book's "smart quotes" (docutils), as the sources write them


def plain(text: str) -> str:
    """Text as compared: compatibility forms (ligatures), straight quotes, one space for any run of white space,
    and a hyphenated word broken at a line's end joined again."""
    text = " ".join(unicodedata.normalize("NFKC", text).translate(QUOTES).split())
    return re.sub(r"(\w)- (\w)", r"\1-\2", text)


@cache
def pdftotext() -> str:
    """The PDF's text, each page's lines laid out as printed."""
    return subprocess.run(["pdftotext", "-layout", str(PATH), "-"], capture_output=True, text=True, check=True).stdout


@cache
def text() -> str:
    """The PDF's text in one line; a line broken after a dash (``encoder–`` / ``decoder``) is joined."""
    return plain(re.sub(r"([–—])\n", r"\1", pdftotext()))


def raw_lines() -> list[str]:
    return pdftotext().splitlines()


def notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def title(markdown: str) -> str:
    return next(line[2:].strip() for line in markdown.splitlines() if line.startswith("# "))


def chapter_titles() -> list[str]:
    titles = [title("".join(notebook(p)["cells"][0]["source"])) for p in NOTEBOOKS]
    titles += [title(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "chapters").glob("*/index.md"))]
    return titles


def captions() -> list[str]:
    found = []
    for path in NOTEBOOKS:
        for cell in notebook(path)["cells"]:
            if caption := cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption"):
                found.append(caption)
    return found


def words_of(markdown: str) -> str:
    """The longest run of a caption or title that prints as written: no math, code, emphasis or links."""
    runs = re.split(r"\$[^$]*\$|`[^`]*`|[*_\[\]{}()]", markdown)
    return plain(max(runs, key=len)).strip(" .,;:")


def test_page_count() -> None:
    info = subprocess.run(["pdfinfo", str(PATH)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    assert pages in PAGES, f"{pages} pages, expected {PAGES.start} to {PAGES.stop}"


def test_every_chapter_title_is_printed() -> None:
    titles = chapter_titles()
    assert len(titles) >= 20
    missing = [t for t in titles if words_of(t) not in text()]
    assert not missing, missing


def test_every_figure_caption_is_printed() -> None:
    found = captions()
    assert len(found) >= 50, len(found)
    missing = [c[:80] for c in found if words_of(c) not in text()]
    assert not missing, missing


def test_the_figures_and_formulas_are_drawn() -> None:
    images = subprocess.run(["pdfimages", "-list", str(PATH)], capture_output=True, text=True, check=True).stdout
    assert len(images.splitlines()) - 2 >= len(captions()), "fewer images in the PDF than figures in the book"


def tex_commands() -> set[str]:
    """The TeX commands that the book's formulas use (its markdown, in notebooks and pages)."""
    markdown = [p.read_text(encoding="utf-8") for p in [*ROOT.glob("*.md"), *(ROOT / "chapters").glob("*/*.md")]]
    markdown += ["".join(c["source"]) for p in NOTEBOOKS for c in notebook(p)["cells"] if c["cell_type"] == "markdown"]
    return set(re.findall(r"\\([A-Za-z]{2,})", "\n".join(markdown)))


def test_no_formula_is_left_as_raw_tex() -> None:
    commands = tex_commands()
    assert {"times", "frac"} <= commands, sorted(commands)[:20]
    tex = re.compile(r"\\(" + "|".join(sorted(commands, key=len, reverse=True)) + r")(?![A-Za-z])|\$\$")
    sources = ["".join(c["source"]) for p in NOTEBOOKS for c in notebook(p)["cells"] if c["cell_type"] == "code"]
    sources += [p.read_text(encoding="utf-8") for p in (ROOT / "convlib").rglob("*.py")]  # the API reference
    code = plain(" ".join(sources))
    raw = [m.group(0) + text()[m.end() : m.end() + 12] for m in tex.finditer(text())]
    stray = [r for r in raw if r.split()[0] not in code]
    assert not stray, f"TeX in the PDF's text that no code cell holds: {stray[:10]}"


def test_solutions_are_printed_open() -> None:
    assert text().count("Solution to Exercise") >= 20
    # a solution's content is printed: each solution heading is followed by more than its title
    assert "Show code cell source" not in text() and "Hide code cell source" not in text()


def test_code_wraps_at_the_margin() -> None:
    widest = max(len(line.rstrip()) for line in raw_lines())
    assert widest <= 160, f"a line of {widest} characters: code runs off the page"


def test_text_is_printed_at_its_size() -> None:
    """Chromium shrinks every page when one element is wider than the paper; the body text then drops from about
    12 pt to 7. The median word's height tells."""
    bbox = subprocess.run(["pdftotext", "-bbox", str(PATH), "-"], capture_output=True, text=True, check=True).stdout
    heights = [float(b) - float(a) for a, b in re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)"', bbox)]
    assert len(heights) > 50_000 and statistics.median(heights) >= 10, statistics.median(heights)
