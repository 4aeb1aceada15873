"""Lighthouse benchmark of every page of the built book: ``python tools/audit.py [PAGE ...] [--out FILE]``.

Serves ``_build/html`` on 127.0.0.1 (a free port) the way GitHub Pages serves the published book --
gzip ``Content-Encoding`` for text types and ``Cache-Control: max-age=600`` -- and runs Lighthouse
(``tools/audit/node_modules``, pinned by ``tools/audit/package-lock.json``; ``make audit`` installs it with the
npm of the Node.js that requirements.txt pins, and this script runs it on that Node.js)
with Debian's Chromium on every page, one page at a time, with Lighthouse's defaults: mobile emulation
and simulated throttling. Writes ``benchmarks/lighthouse.md`` (or ``--out``) and, next to it, the same
numbers as ``lighthouse.json``:

- one row per page: the four category scores, FCP, LCP, TBT, CLS, page weight and console errors;
- a summary: how many pages meet the goal, and the lowest score of each category;
- for every page that misses the goal, the audits that hold it back (id, title and displayed value)
  in each category below its goal, and the console errors.

The goal of every page: performance >= 80, accessibility, best practices and SEO 100, no console errors.

This is a benchmark, not a test: a page below the goal is reported, not an error. The exit status
is non-zero only when Lighthouse itself fails on a page (the page is named); the report is still
written for the other pages. Performance scores from simulated throttling vary between runs (by up to
15 points on a busy 2-core machine, mostly through TBT): ``--runs 5`` reports each page's median run.

This file is the command line and the loop over pages; the parts are ``tools/serve.py`` (the server),
``tools/lighthouse.py`` (running Lighthouse), ``tools/audit_scores.py`` (one page's numbers, the
summary) and ``tools/audit_report.py`` (the markdown and JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script (python tools/audit.py): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import lighthouse
from tools.audit_report import cell, write
from tools.audit_scores import GOAL, score, summarize, summary
from tools.lighthouse import CATEGORIES, LighthouseError
from tools.serve import DESCRIPTION, list_pages, serve

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def main(argv: Sequence[str] | None = None) -> int:
    """Audit the pages, write the report; 0 unless Lighthouse failed on a page."""
    parser = argparse.ArgumentParser(prog="python tools/audit.py", description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="pages relative to _build/html (default: every page)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "lighthouse.md", help="markdown report")
    parser.add_argument("--html", type=Path, default=HTML, help="the built site")
    parser.add_argument("--timeout", type=float, default=240, help="seconds Lighthouse may take on one page")
    parser.add_argument("--retries", type=int, default=1, help="runs again a page Lighthouse failed on")
    parser.add_argument("--runs", type=int, default=1, help="Lighthouse runs per page; the median one is reported")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        parser.error(f"{args.html} holds no built book: run `make book` first")
    if not lighthouse.LIGHTHOUSE.exists():
        parser.error(f"{lighthouse.LIGHTHOUSE} is missing: run `make audit`, which installs it from the lockfile")
    everything = list_pages(args.html)
    unknown = [p for p in args.pages if p not in everything]
    if unknown:
        parser.error(f"not pages of the built book: {', '.join(unknown)}")
    pages = sorted(args.pages) if args.pages else everything

    rows: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    version, conditions = "unknown", "unknown"
    start = time.perf_counter()
    with serve(args.html) as base:
        for i, page in enumerate(pages, 1):
            began, tag = time.perf_counter(), f"[{i}/{len(pages)}] {page}"
            try:
                reports = [lighthouse.attempts(base + page, args.retries, args.timeout, tag) for _ in range(args.runs)]
            except LighthouseError as err:
                failed.append({"page": page, "error": str(err)})
                continue
            lhr = lighthouse.median_run(reports)
            version, conditions = lhr.get("lighthouseVersion", version), lighthouse.emulation(lhr)
            rows.append(summarize(page, lhr))
            if args.runs > 1:
                rows[-1]["performance_runs"] = sorted(score(r["categories"]["performance"]["score"]) for r in reports)
            scores = " ".join(cell(rows[-1]["scores"][c]) for c in CATEGORIES)
            print(f"{tag}: {scores} ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "lighthouse": version,
            "chromium": lighthouse.chromium_version(),
            "emulation": conditions,
            "server": DESCRIPTION,
            "goal": {**GOAL, "console_errors": 0},
            "seconds": round(elapsed),
            "runs": args.runs,
        },
        "pages": rows,
        "summary": summary(rows),
        "failed": failed,
    }
    write(result, args.out)
    print(f"{args.out}: {result['summary']['meeting_goal']} of {len(rows)} pages meet the goal ({elapsed:.0f} s)")
    if failed:
        print("Lighthouse failed on: " + ", ".join(f["page"] for f in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
