"""The numbers of the Lighthouse audit (``tools/audit.py``): one page's from its report, and the summary of all.

The goal of every page: performance >= 80, accessibility, best practices and SEO 100, no console errors.
For a page below it, :func:`summarize` lists the audits that hold it back, as Lighthouse's own report
would show them failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from tools.lighthouse import CATEGORIES

GOAL = {"performance": 80, "accessibility": 100, "best-practices": 100, "seo": 100}
METRICS = {  # key in the report -> Lighthouse audit id
    "fcp_ms": "first-contentful-paint",
    "lcp_ms": "largest-contentful-paint",
    "tbt_ms": "total-blocking-time",
    "cls": "cumulative-layout-shift",
    "bytes": "total-byte-weight",
}
PASS = 0.9  # Lighthouse's report shows an audit scoring below this as failed (binary audits score 0 or 1)


def score(value: float | None) -> int | None:
    """A 0-1 score as Lighthouse displays it: 0-100, rounded half up."""
    return None if value is None else math.floor(value * 100 + 0.5)


def _failing(report: Mapping[str, Any], category: str) -> list[dict[str, str]]:
    """The audits the report would show as failed in ``category``, heaviest first (weight, then id)."""
    audits, out = report["audits"], []
    refs = report["categories"][category]["auditRefs"]
    for ref in sorted(refs, key=lambda r: (-r.get("weight", 0), r["id"])):
        audit = audits.get(ref["id"], {})
        mode = audit.get("scoreDisplayMode")
        if ref.get("group") == "hidden" or mode in ("manual", "notApplicable", "informative"):
            continue
        if mode == "error":
            value = f"error: {audit.get('errorMessage')}"
        elif audit.get("score") is not None and audit["score"] < PASS:
            value = str(audit.get("displayValue") or "").replace("\xa0", " ")
        else:
            continue
        out.append({"id": ref["id"], "title": str(audit.get("title", "")), "value": value})
    return out


def _local(url: str, origin: str) -> str:
    """``url`` without the server's origin (its port changes from run to run)."""
    return url.removeprefix(origin) if origin and url.startswith(origin + "/") else url


def summarize(page: str, report: Mapping[str, Any]) -> dict[str, Any]:
    """The benchmark's numbers of one page from its Lighthouse report: scores, metrics, what misses the goal."""
    audits = report["audits"]
    parts = urlsplit(report.get("requestedUrl", ""))
    origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    scores = {c: score(report["categories"][c]["score"]) for c in CATEGORIES}
    metrics = {key: audits.get(audit_id, {}).get("numericValue") for key, audit_id in METRICS.items()}
    console = audits.get("errors-in-console", {}).get("details", {}).get("items", [])
    errors = [
        {
            "source": str(item.get("source", "")),
            "description": str(item.get("description", "")),
            "url": _local(str((item.get("sourceLocation") or {}).get("url", "")), origin),
        }
        for item in console
    ]
    below = [c for c, score in scores.items() if score is None or score < GOAL[c]]
    final = _local(str(report.get("finalDisplayedUrl", "")), origin).lstrip("/").split("#")[0]  # a page's own state
    return {
        "page": page,
        "redirected_to": final if final and final != page else None,
        "scores": scores,
        **metrics,
        "console_errors": len(errors),
        "meets_goal": not below and not errors,
        "holding_back": {c: _failing(report, c) for c in below},
        "console": errors,
    }


def summary(pages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many pages meet the goal, the lowest score of each category, how many pages log errors."""
    lowest: dict[str, int | None] = {}
    for c in CATEGORIES:
        values = [p["scores"][c] for p in pages if p["scores"][c] is not None]
        lowest[c] = min(values) if values else None
    return {
        "pages": len(pages),
        "meeting_goal": sum(p["meets_goal"] for p in pages),
        "lowest": lowest,
        "with_console_errors": sum(p["console_errors"] > 0 for p in pages),
    }
