"""The PDF edition: the whole book as one PDF, offline: ``python tools/pdf.py [--out FILE] [--no-build]``.

Jupyter Book builds the book as a single HTML page (``--builder singlehtml``, into ``_build/singlehtml``), with
the same extensions as the site, so the math is already SVG; Debian's Chromium, driven by Playwright, prints
that page to PDF (``page.pdf``), the way a reader's browser prints a page but for the whole book at once. Before
printing, in the page: every image loads (lazy ones too), every dropdown opens (solutions, hidden code cells),
code wraps at the margin instead of running off the page, and the light theme is used. The PDF has an outline
(the headings) and tagged text. Nothing is downloaded: no LaTeX, no browser of Playwright's own.

Writes ``_build/html/convolution-in-deep-learning.pdf`` (beside the HTML, as the site publishes it and as
intro.md links to it) and prints its size, page count and build time. ``make pdf`` runs it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: tools/ is not a package on the path then
    sys.path.insert(0, str(ROOT))

from tools.lighthouse import CHROMIUM  # noqa: E402
from tools.links import PDF  # noqa: E402
from tools.serve import serve  # noqa: E402

SINGLE = ROOT / "_build" / "singlehtml"
OUT = ROOT / "_build" / "html" / PDF

# Print styles: code wraps, dropdowns and hidden cells are shown open, nothing interactive is printed.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
@media print {
  pre, pre code, .highlight pre, div.cell_output pre { white-space: pre-wrap !important; overflow-wrap: anywhere;
    overflow: visible !important; max-height: none !important; }
  /* Paper does not scroll: a table wider than the page would make Chromium shrink every page to fit it, so
     tables take the page's width and their cells wrap anywhere. */
  .pst-scrollable-table-container, .table-wrapper { overflow: visible !important; }
  table { font-size: 0.8em; max-width: 100% !important; }
  td, th, td *, th * { overflow-wrap: anywhere; }
  .toggle-hidden, details > *:not(summary) { display: revert !important; visibility: visible !important; }
  button.toggle-button, details.hide > summary, .copybtn, .headerlink, .prev-next-area, #jb-print-toc {
    display: none !important; }
  img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
  figure, .cell_output img { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  section > h1 { break-before: page; }
  [data-convlib-anim] canvas { max-width: 100%; }
}
"""

# In the page before printing: load every image, open every dropdown, print the light theme.
PREPARE_JS = """async () => {
  document.documentElement.dataset.theme = "light";
  document.documentElement.dataset.mode = "light";
  for (const d of document.querySelectorAll("details")) d.open = true;
  for (const e of document.querySelectorAll(".toggle-hidden")) e.classList.remove("toggle-hidden");
  const images = [...document.images];
  for (const img of images) { img.loading = "eager"; img.decoding = "sync"; }
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done, {once: true}); img.addEventListener("error", done, {once: true}); })));
  return images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
}"""


def build_single_page() -> Path:
    """The book as one HTML page, built by Jupyter Book from the same sources and extensions as the site."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jupyter_book), "build", str(ROOT), "--builder", "singlehtml"], check=True, cwd=ROOT)
    index = SINGLE / "intro.html"
    if not index.is_file():
        raise SystemExit(f"pdf: {index} was not built")
    return index


def print_pdf(out: Path) -> None:
    """Print _build/singlehtml/intro.html to ``out`` with Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    with serve(SINGLE) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            context = browser.new_context(color_scheme="light", viewport={"width": 1000, "height": 1400})
            page = context.new_page()
            page.set_default_timeout(300_000)
            page.goto(url + "intro.html", wait_until="load")
            page.add_style_tag(content=PRINT_CSS)
            missing = page.evaluate(PREPARE_JS)
            if missing:
                raise SystemExit(f"pdf: images that did not load: {missing[:5]}")
            page.emulate_media(media="print")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(
                path=str(out),
                prefer_css_page_size=True,
                print_background=True,
                outline=True,
                tagged=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template='<div style="width:100%;font-size:8px;text-align:center;color:#555">'
                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
            )
        finally:
            browser.close()


def pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-build", action="store_true", help="print the single page already in _build/singlehtml")
    args = parser.parse_args(argv)
    start = time.monotonic()
    if not args.no_build:
        build_single_page()
    built = time.monotonic()
    print_pdf(args.out)
    done = time.monotonic()
    count = pages(args.out) if subprocess.run(["which", "pdfinfo"], capture_output=True).returncode == 0 else "?"
    print(
        f"PDF edition: {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB, {count} pages); "
        f"built in {done - start:.0f} s (single page {built - start:.0f} s, printing {done - built:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
