"""The explorer page of the built book, in headless Chromium, against convlib's golden cases.

A harness page opens the book's ``explorer.html`` in an iframe: a few settings each in a fresh page load from
its URL fragment, all of
:func:`convlib.course.explorer.golden_cases` by changing the fragment of one page, as a reader who edits
the address does. For every case it reads what the page displays (``data-output-size`` and the other
``data-*`` attributes of the result, the message, the formula and the torch call) and the test compares
with convlib, and the output values of "numbers in the cells" with torch's. One more page plays a reader's
session: edit the form, play, drag the slider. Run after ``jupyter-book build``; with CONVLIB_REQUIRE_SITE=1
a missing build fails. ``_build/html`` is served on 127.0.0.1 and the browser is offline (tests/browser.py):
the harness is the browser's answer for one more URL of that server (a route), so it shares the explorer's
origin and can read its frames; nothing may be requested from another machine.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from playwright.sync_api import Browser, Route

from convlib.course.explorer import GoldenCase, golden_cases
from tests.browser import Offline, offline_context
from tests.helpers import HTML, require_site
from tools.serve import serve

PAGE = HTML / "explorer.html"

require_site(PAGE)

CASES = golden_cases()
# Fresh page loads from a link: the two examples, 1-D, an error of each kind, a size too big to draw,
# the defaults.
FRESH = [
    "op=conv&i=7&k=3&s=2&p=1&d=1",
    "op=transpose&i=3&k=3&s=2&p=1&d=1&op_pad=1",
    "op=conv&dim=1&i=9&k=3&s=1&p=0&d=3",
    "op=conv&i=3&k=5&s=1&p=0&d=1",
    "op=transpose&i=3&k=3&s=2&p=1&d=1&op_pad=2",
    "op=conv&i=60&k=3&s=1&p=1&d=1",
    "",
]
FRESH_SIZES = ["4x4", "6x6", "3", "none", "none", "60x60", "4x4"]
FRESH_MESSAGES = ["", "", "", "The kernel does not fit", "output_padding must be", "too big to draw", ""]

# Reads the explorer's display into a JSON object; runs inside the harness.
HARNESS = """<!doctype html><meta charset="utf-8"><title>explorer harness</title>
<pre id="out">running</pre><div id="frames"></div>
<script>
var PAGE = %(page)s, CASES = %(cases)s, FRESH = %(fresh)s, out = document.getElementById("out");
var result = {fresh: [], cases: []};
function read(doc) {
  var r = doc.querySelector(".cx-result"), m = doc.querySelector(".cx-message"), a = {};
  ["data-output-size", "data-error", "data-canvas-size", "data-kinds", "data-taps", "data-values", "data-step",
   "data-step-taps"]
    .forEach(function (n) { a[n] = r.getAttribute(n); });
  a.message = m.hidden ? "" : m.textContent;
  a.formula = doc.querySelector(".cx-formula").textContent;
  a.call = doc.querySelector(".cx-call").textContent;
  a.scroll = doc.documentElement.scrollWidth; a.width = doc.documentElement.clientWidth;
  return a;
}
function frame(src, done) {
  var f = document.createElement("iframe");
  f.style.width = "390px"; f.style.height = "700px";  // a phone-sized viewport
  f.onload = function () { done(f); };
  f.src = src; document.getElementById("frames").appendChild(f);
}
// Chromium allows a frame about 200 navigations, fragment changes included, per 10 s: one frame per 150 cases.
function chunk(n) {
  if (n >= CASES.length) { out.textContent = JSON.stringify(result); return; }
  frame(PAGE + "#op=conv", function (f) { next(f, n, Math.min(n + 150, CASES.length)); });
}
function next(f, n, end) {
  if (n === end) { f.remove(); chunk(end); return; }
  f.contentWindow.addEventListener("hashchange", function h() {
    f.contentWindow.removeEventListener("hashchange", h);
    result.cases.push(read(f.contentDocument)); setTimeout(function () { next(f, n + 1, end); }, 0);
  });
  f.contentWindow.location.hash = CASES[n];
}
// A reader's session: change the stride in the form, press play, wait, then drag the slider to step 2.
function interact(done) {
  frame(PAGE + "#op=conv&dim=1&i=9&k=3&s=1&p=0&d=1&t=0", function (f) {
    var doc = f.contentDocument, form = doc.querySelector(".cx-controls"), r = doc.querySelector(".cx-result");
    var s = [];
    form.elements.s.value = "2"; form.dispatchEvent(new Event("input", {bubbles: true}));
    s.push({size: r.getAttribute("data-output-size"), hash: f.contentWindow.location.hash,
            button: doc.querySelector(".cx-player button").textContent});
    setTimeout(function () {
      s.push({step: r.getAttribute("data-step")});
      var bar = doc.querySelector(".cx-player input");
      bar.value = "1"; bar.dispatchEvent(new Event("input", {bubbles: true}));
      s.push({step: r.getAttribute("data-step"), hash: f.contentWindow.location.hash,
              button: doc.querySelector(".cx-player button").textContent});
      result.session = s; f.remove(); done();
    }, 1500);
  });
}
var left = FRESH.length;
FRESH.forEach(function (frag, n) {
  frame(PAGE + (frag ? "#" + frag : ""), function (f) {
    result.fresh[n] = read(f.contentDocument);
    if (--left === 0) interact(function () { chunk(0); });
  });
});
</script>
"""


def numbers_in_the_cells(case: GoldenCase) -> list[int]:
    """The output values that the page's "numbers in the cells" shows, computed by torch from the same input
    and kernel: input cell n (row-major) holds (5n + 2) mod 7 - 3, kernel entry m holds (3m + 1) mod 5 - 2."""
    q = {key: int(v) for key, v in (pair.split("=") for pair in case.fragment.split("&")) if key != "op"}
    dim, i, k = q["dim"], q["i"], q["k"]
    x = ((torch.arange(i**dim) * 5 + 2) % 7 - 3).double().view(1, 1, *[i] * dim)  # (N, C, L) or (N, C, H, W)
    w = ((torch.arange(k**dim) * 3 + 1) % 5 - 2).double().view(1, 1, *[k] * dim)  # (C_out, C_in, k...) or transposed
    args = {"stride": q["s"], "padding": q["p"], "dilation": q["d"]}
    if "op=transpose" in case.fragment:
        fn = F.conv_transpose1d if dim == 1 else F.conv_transpose2d
        y = fn(x, w, output_padding=q["op_pad"], **args)
    else:
        y = (F.conv1d if dim == 1 else F.conv2d)(x, w, **args)
    return [round(v) for v in y.flatten().tolist()]


def step_of(case: GoldenCase) -> int:
    return len(case.taps) // 2  # a middle step: neither the first nor (usually) the last


@pytest.fixture(scope="module")
def offline() -> Offline:
    return Offline()


@pytest.fixture(scope="module")
def shown(browser: Browser, offline: Offline) -> dict:
    fragments = [c.fragment + f"&t={step_of(c)}" for c in CASES]
    with serve(HTML) as site, offline_context(browser, offline) as context:
        harness = HARNESS % {"page": json.dumps(site + PAGE.name), "cases": json.dumps(fragments),
                             "fresh": json.dumps(FRESH)}  # fmt: skip

        def answer(route: Route) -> None:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=harness)

        context.route(site + "explorer-harness.html", answer)
        page = context.new_page()
        page.goto(site + "explorer-harness.html", wait_until="load")
        page.wait_for_function("document.getElementById('out').textContent.startsWith('{')", timeout=240_000)
        return json.loads(page.text_content("#out") or "")


def test_nothing_was_requested_from_another_machine(shown: dict, offline: Offline) -> None:
    assert not offline.blocked, offline.blocked
    assert any(url.endswith("/explorer.html") for url in offline.passed), "the explorer was not loaded offline"


def test_every_golden_case_is_shown(shown: dict) -> None:
    assert len(shown["cases"]) == len(CASES)


@pytest.mark.parametrize("n", range(len(CASES)), ids=[c.fragment for c in CASES])
def test_the_page_matches_convlib(shown: dict, n: int) -> None:
    case, got = CASES[n], shown["cases"][n]
    assert got["data-output-size"] == case.output_size
    assert got["data-error"] == case.error
    if case.error:
        assert got["data-taps"] is None and got["data-kinds"] is None
        assert ("output_padding must be smaller" if case.error == "output_padding" else "o") in got["message"]
        assert got["message"].startswith(("The kernel does not fit", "No output", "output_padding"))
        assert "RuntimeError" in got["call"] or "0, 0]): nothing is left" in got["call"]
        return
    assert got["message"] == ""
    assert got["data-canvas-size"] == case.canvas_size
    assert got["data-kinds"] == case.kinds
    assert got["data-taps"] == ";".join(",".join(map(str, taps)) for taps in case.taps)
    assert got["data-step"] == str(step_of(case))
    assert got["data-step-taps"] == ",".join(map(str, case.taps[step_of(case)]))
    assert got["data-values"] == ",".join(str(v) for v in numbers_in_the_cells(case)), "the output values"
    side = case.output_size.split("x")[0]
    assert got["formula"].endswith(f"= {side}"), got["formula"]
    transposed, dim = "op=transpose" in case.fragment, 1 if "dim=1" in case.fragment else 2
    assert f"y = F.conv{'_transpose' if transposed else ''}{dim}d(x, w, stride=" in got["call"]
    assert f"y.shape  # torch.Size([1, 1, {case.output_size.replace('x', ', ')}])" in got["call"]


@pytest.mark.parametrize("n", range(len(FRESH)), ids=FRESH)
def test_a_link_reproduces_the_view(shown: dict, n: int) -> None:
    """A fresh load from a link shows the view it names (an empty fragment: the defaults)."""
    got = shown["fresh"][n]
    assert got["data-output-size"] == FRESH_SIZES[n]
    assert FRESH_MESSAGES[n] in got["message"] and (got["message"] == "") == (FRESH_MESSAGES[n] == "")


def test_a_reader_session(shown: dict) -> None:
    """Editing the form redraws at once and plays; the slider pauses; both write the view into the address."""
    edited, playing, scrubbed = shown["session"]
    assert edited["size"] == "4"  # i=9, k=3, s=2: floor(6/2) + 1
    assert edited["hash"] == "#op=conv&dim=1&i=9&k=3&s=2&p=0&d=1" and edited["button"] == "pause"
    assert int(playing["step"]) >= 1, "the animation did not advance while playing"
    assert scrubbed == {"step": "1", "hash": "#op=conv&dim=1&i=9&k=3&s=2&p=0&d=1&t=1", "button": "play"}


def test_the_page_fits_a_390_px_screen(shown: dict) -> None:
    wide = [(FRESH[n], got["scroll"], got["width"]) for n, got in enumerate(shown["fresh"]) if got["scroll"] > 390]
    assert not wide, f"the explorer scrolls sideways on a 390-px screen: {wide}"


def test_the_page_is_self_contained() -> None:
    """Everything the explorer needs is inline: no fetch, no XHR, no script or style of its own to load."""
    html = PAGE.read_text(encoding="utf-8")
    start, end = html.index('<div id="conv-explorer"'), html.index("</script>", html.index('<div id="conv-explorer"'))
    app = html[start:end]
    assert "fetch(" not in app and "XMLHttpRequest" not in app and "src=" not in app and "http" not in app
