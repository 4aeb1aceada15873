"""Every link of the built book, checked offline: ``python tools/links.py [--site DIR] [--out FILE]``.

Reads every page of ``_build/html`` (as ``make audit`` lists them) and follows each hyperlink (``<a href>``,
``<area href>``, ``<form action>``):

- an **internal** link must reach a file of the site (a folder's ``index.html`` counts) and, with a
  ``#fragment``, an element of that page with that ``id`` (or ``name``): links between chapters, into the API
  reference, to equations, figures and the bibliography;
- an **external** link is not fetched (the check is offline): each one is listed once, with the pages that
  hold it, in the report, and none may point at a placeholder (``example.com``, a made-up repository, ...).

Files that the site links to but that another command adds to it are listed in ``LATER``: the PDF edition,
which ``make pdf`` writes beside the HTML (tests/test_pdf.py checks it). Writes the report to ``--out``
(default ``_build/links.md``) and exits non-zero when a link is broken or points at a placeholder.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: tools/ is not a package on the path then
    sys.path.insert(0, str(ROOT))

from tools.serve import list_pages  # noqa: E402

HTML = ROOT / "_build" / "html"
PDF = "convolution-in-deep-learning.pdf"  # the PDF edition, beside the HTML (make pdf)
LATER = {PDF: "make pdf"}
# Pages whose fragment holds a view's state, read by the page's script (explorer.html#op=conv&i=7&k=3), not an id.
STATE_PAGES = {"explorer.html"}
STATE = re.compile(r"\w+=[^&=]*(&\w+=[^&=]*)*")
# Addresses that stand for a real one: documentation examples, made-up repositories, unfilled templates.
PLACEHOLDER = re.compile(
    r"//(www\.)?example\.(com|org|net)\b|//localhost\b|//127\.0\.0\.1\b|convolution-course/convolution-course"
    r"|\b(your[-_]?(org|user|name|repo)|username|placeholder|todo|xxx)\b",
    re.I,
)


class Links(HTMLParser):
    """A page's ids and its hyperlinks."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.ids.update(a[k] for k in ("id", "name") if a.get(k))
        if tag in ("a", "area") and "href" in a:
            self.links.append(a["href"])
        elif tag == "form" and a.get("action"):
            self.links.append(a["action"])


@dataclass
class Report:
    """What the check found: broken links (page, link, why), external links (url -> pages), counts."""

    broken: list[tuple[str, str, str]] = field(default_factory=list)
    external: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    later: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    internal: int = 0
    anchors: int = 0
    targets: set[str] = field(default_factory=set)  # the site's files that internal links reach

    @property
    def placeholders(self) -> list[str]:
        return sorted(url for url in self.external if PLACEHOLDER.search(url))

    @property
    def ok(self) -> bool:
        return not self.broken and not self.placeholders


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def check(site: Path) -> Report:
    """Every hyperlink of every page of ``site``."""
    pages = list_pages(site)
    parsed = {name: parse(site / name) for name in pages}
    ids: dict[Path, set[str]] = {(site / name).resolve(): p.ids for name, p in parsed.items()}
    report = Report()
    for name, page in parsed.items():
        here = (site / name).resolve()
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https") or link.startswith("//"):
                if name not in report.external[link]:
                    report.external[link].append(name)
                continue
            if parts.scheme in ("mailto", "data", "javascript") or link in ("", "#"):
                continue
            target = (here.parent / unquote(parts.path)).resolve() if parts.path else here
            if target.is_dir():
                target = target / "index.html"
            relative = target.relative_to(site.resolve()).as_posix() if target.is_relative_to(site.resolve()) else link
            report.internal += 1
            if not target.is_file():
                if relative in LATER:
                    report.later[relative].append(name)
                else:
                    report.broken.append((name, link, "no such file"))
                continue
            report.targets.add(relative)
            if parts.fragment and relative in STATE_PAGES and STATE.fullmatch(parts.fragment):
                continue
            if parts.fragment and target.suffix == ".html":
                report.anchors += 1
                known = ids[target] if target in ids else parse(target).ids
                if unquote(parts.fragment) not in known:
                    report.broken.append((name, link, f"no id {parts.fragment!r} in {relative}"))
    return report


def markdown(report: Report, site: Path) -> str:
    lines = [
        "# Links of the built book",
        "",
        f"Written by `tools/links.py` from `{site.relative_to(ROOT) if site.is_relative_to(ROOT) else site}`. "
        f"{report.internal} internal links ({report.anchors} to an anchor), all checked; "
        f"{len(report.broken)} broken; {len(report.external)} external links, listed below, not fetched.",
        "",
    ]
    if report.broken:
        lines += ["## Broken links", "", "| page | link | why |", "|---|---|---|"]
        lines += [f"| {page} | `{link}` | {why} |" for page, link, why in report.broken] + [""]
    if report.placeholders:
        lines += ["## Links to a placeholder", ""] + [f"- {url}" for url in report.placeholders] + [""]
    lines += ["## External links", "", "| link | pages |", "|---|---|"]
    lines += [f"| <{url}> | {', '.join(sorted(pages))} |" for url, pages in sorted(report.external.items())]
    if report.later:
        lines += ["", "## Added to the site by another command", ""]
        lines += [f"- `{f}` ({LATER[f]}), linked from {', '.join(sorted(set(p)))}" for f, p in report.later.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=HTML)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "links.md")
    args = parser.parse_args(argv)
    report = check(args.site)
    args.out.write_text(markdown(report, args.site), encoding="utf-8")
    print(f"{report.internal} internal links, {len(report.broken)} broken; {len(report.external)} external: {args.out}")
    for page, link, why in report.broken:
        print(f"  {page}: {link} ({why})")
    for url in report.placeholders:
        print(f"  placeholder: {url}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
