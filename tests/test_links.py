"""Every link of the built book resolves (tools/links.py): pages, anchors, the API reference, chapter to chapter.

The check over ``_build/html`` writes its report, with every external link listed once, to ``_build/links.md``.
A small site with one fault of each kind shows that the check finds each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import HTML, NOT_BUILT, ROOT, site_is_built
from tools import links

BUILT = site_is_built()
needs_site = pytest.mark.skipif(not BUILT, reason=NOT_BUILT)


@pytest.fixture(scope="module")
def report() -> links.Report:
    result = links.check(HTML)
    (ROOT / "_build" / "links.md").write_text(links.markdown(result, HTML), encoding="utf-8")
    return result


@needs_site
def test_every_internal_link_and_anchor_resolves(report: links.Report) -> None:
    assert report.internal > 1000 and report.anchors > 500, (report.internal, report.anchors)
    assert not report.broken, "broken links (see _build/links.md):\n  " + "\n  ".join(map(str, report.broken[:20]))


@needs_site
def test_the_api_reference_and_every_chapter_are_reached_by_links(report: links.Report) -> None:
    api = {t for t in report.targets if t.startswith("api/")}
    pages = {p.relative_to(HTML).as_posix() for p in (HTML / "api").rglob("*.html")}  # one per module, generated
    assert {"api/index.html", "api/generated/convlib.functional.html", "api/generated/convlib.html"} <= pages
    assert pages <= api, sorted(pages - api)
    chapters = {t for t in report.targets if t.startswith("chapters/")}
    built = {p.relative_to(HTML).as_posix() for p in (HTML / "chapters").rglob("*.html")}
    assert built <= chapters, sorted(built - chapters)


@needs_site
def test_no_external_link_points_at_a_placeholder(report: links.Report) -> None:
    assert report.external, "no external link found: the parser is broken"
    assert not report.placeholders, report.placeholders
    assert set(report.later) <= set(links.LATER)


@needs_site
def test_the_intro_links_to_the_pdf_edition(report: links.Report) -> None:
    pdf = HTML / links.PDF
    assert "intro.html" in report.later.get(links.PDF, []) or (pdf.is_file() and links.PDF in report.targets)


def test_the_check_finds_each_kind_of_fault(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "api").mkdir(parents=True)
    page = '<!doctype html><meta charset="utf-8"><title>{0}</title><body>{1}</body>'
    (site / "api" / "ops.html").write_text(page.format("ops", '<dl><dt id="convlib.conv2d">conv2d</dt></dl>'))
    (site / "explorer.html").write_text(page.format("explorer", "<p>explorer</p>"))
    (site / "intro.html").write_text(
        page.format(
            "intro",
            '<a href="api/ops.html#convlib.conv2d">ok</a><a href="api/ops.html#convlib.conv3d">no anchor</a>'
            '<a href="chapters/gone.html">no page</a><a href="#here">no id here</a>'
            '<a href="explorer.html#op=conv&amp;i=7">state</a><a href="https://arxiv.org/abs/1603.07285">paper</a>'
            '<a href="https://github.com/your-org/your-repo">template</a><a href="https://example.com/x">example</a>'
            f'<a href="{links.PDF}">pdf</a>',
        )
    )
    report = links.check(site)
    assert sorted(link for _, link, _ in report.broken) == [
        "#here",
        "api/ops.html#convlib.conv3d",
        "chapters/gone.html",
    ]
    assert report.placeholders == ["https://example.com/x", "https://github.com/your-org/your-repo"]
    assert set(report.external) == {"https://arxiv.org/abs/1603.07285", *report.placeholders}
    assert report.later == {links.PDF: ["intro.html"]} and not report.ok
    assert links.main(["--site", str(site), "--out", str(tmp_path / "links.md")]) == 1
    assert "| <https://arxiv.org/abs/1603.07285> | intro.html |" in (tmp_path / "links.md").read_text()
