"""The Lighthouse audit's report (``tools/audit.py``): ``lighthouse.md`` and the same numbers as ``lighthouse.json``.

The markdown is written from the data alone, so a committed ``lighthouse.json`` gives back its
``lighthouse.md`` byte for byte (tests/test_audit.py checks it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.audit_scores import GOAL
from tools.lighthouse import CATEGORIES

TITLES = {
    "performance": "performance",
    "accessibility": "accessibility",
    "best-practices": "best practices",
    "seo": "SEO",
}


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.1f}"


def _weight(size: float | None) -> str:
    if size is None:
        return "–"
    return f"{size / 2**20:.2f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


def cell(value: int | None) -> str:
    return "–" if value is None else str(value)


def markdown(result: Mapping[str, Any]) -> str:
    """``lighthouse.md``: conditions, one row per page, the summary, and what holds back each page below the goal."""
    meta, pages, summary = result["meta"], result["pages"], result["summary"]
    goal = ", ".join(f"{TITLES[c]} {'≥ ' if GOAL[c] < 100 else ''}{GOAL[c]}" for c in CATEGORIES)
    lines = [
        "# Lighthouse audit of the built book",
        "",
        f"Written by `make audit` (`python tools/audit.py`) on {meta['date']}. A benchmark, not a test: "
        "performance scores from simulated throttling vary between runs (by up to 15 points on a busy 2-core "
        "machine, mostly through TBT; `--runs 5` reports each page's median run) and between machines.",
        "",
        f"- Lighthouse {meta['lighthouse']} with {meta['chromium']} (headless), default settings: {meta['emulation']}.",
        f"- Server: {meta['server']}.",
        f"- Goal per page: {goal}, and no console errors.",
        f"- {len(pages)} page{'' if len(pages) == 1 else 's'}, one at a time, in {meta['seconds'] / 60:.1f} min "
        f"({meta['seconds'] / max(len(pages) + len(result.get('failed', [])), 1):.0f} s a page)"
        + (
            f"; {meta['runs']} Lighthouse runs a page, the run with the median performance score shown "
            "(every run's performance score in brackets)."
            if meta.get("runs", 1) > 1
            else ", one Lighthouse run a page."
        ),
        "",
        "| page | perf. | access. | best pr. | SEO | FCP (s) | LCP (s) | TBT (ms) | CLS | weight | console err. "
        "| goal |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for p in pages:
        s = p["scores"]
        tbt = "–" if p["tbt_ms"] is None else f"{p['tbt_ms']:.0f}"
        cls = "–" if p["cls"] is None else f"{p['cls']:.3f}"
        name = p["page"] + (f" (→ {p['redirected_to']})" if p.get("redirected_to") else "")
        cells = [cell(s[c]) for c in CATEGORIES]
        if len(p.get("performance_runs", [])) > 1:
            cells[0] += f" ({', '.join(map(str, p['performance_runs']))})"
        lines.append(
            f"| {name} | {' | '.join(cells)} | {_seconds(p['fcp_ms'])} | "
            f"{_seconds(p['lcp_ms'])} | {tbt} | {cls} | {_weight(p['bytes'])} | {p['console_errors']} | "
            f"{'✓' if p['meets_goal'] else '✗'} |"
        )
    lowest = ", ".join(f"{TITLES[c]} {cell(summary['lowest'][c])}" for c in CATEGORIES)
    lines += [
        "",
        f"**{summary['meeting_goal']} of {summary['pages']} pages meet the goal.** Lowest scores: {lowest}. "
        f"Pages with console errors: {summary['with_console_errors']}.",
    ]
    if result.get("failed"):
        failures = ", ".join(f"{f['page']} ({f['error']})" for f in result["failed"])
        lines += ["", f"Lighthouse failed on: {failures}."]
    missing = [p for p in pages if not p["meets_goal"]]
    if missing:
        lines += ["", "## What holds each page back", ""]
        lines.append(
            "Per page, in each category below its goal, the audits Lighthouse shows as failed (score below 0.9; "
            "heaviest weight first), then the console errors."
        )
    for p in missing:
        lines += ["", f"### {p['page']}", ""]
        for category, audits in p["holding_back"].items():
            score = cell(p["scores"][category])
            lines.append(f"- **{TITLES[category]} {score}** (goal {GOAL[category]}):")
            lines += [f"  - `{a['id']}` {a['title']}" + (f": {a['value']}" if a["value"] else "") for a in audits]
            if not audits:
                lines.append("  - (no single failed audit; the weighted metrics add up below the goal)")
        if p["console"]:
            lines.append(f"- **console errors {p['console_errors']}:**")
            for e in p["console"]:
                lines.append(f"  - {e['source']}: {e['description']}" + (f" ({e['url']})" if e["url"] else ""))
    return "\n".join(lines) + "\n"


def write(result: Mapping[str, Any], out: Path) -> str:
    """Write ``out`` (markdown) and ``out`` with suffix ``.json`` (the same numbers); returns the markdown."""
    report = markdown(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return report
