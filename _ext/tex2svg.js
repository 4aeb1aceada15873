// Typeset TeX to SVG at build time with the MathJax that sphinx-mathjax-offline ships (driven by _ext/static_math.py).
// Protocol: argv[2] is MathJax's folder and argv[3] a JSON object of TeX macros. Each line on stdin is a
// JSON request {"tex": "...", "display": true|false}; each answer on stdout is one JSON line,
// {"html": "<mjx-container ...>"} or {"error": "the TeX error"}. The formulas draw their glyphs from
// one cache per page: the request {"defs": true} answers {"html": "<svg ...>"}, the glyphs used since
// the last such request, to put once in the page. A first line {"css": "..."} gives the stylesheet
// the SVG output needs.
"use strict";
const path = require("path");
const readline = require("readline");
const root = process.argv[2];
const macros = JSON.parse(process.argv[3] || "{}");

global.MathJax = {
  loader: {
    paths: { mathjax: root },
    source: {},
    require: require,
    load: ["adaptors/liteDOM", "input/tex-full", "output/svg", "a11y/assistive-mml"],
  },
  // A TeX error must fail the build, not print red text in the book.
  // noerrors and noundefined would draw a bad formula in red instead of failing the build.
  tex: { macros: macros, packages: { "[-]": ["noerrors", "noundefined"] }, formatError: (jax, err) => { throw err; } },
  // Each glyph's path once per page, not once per use: a chapter's HTML is a third of the size.
  svg: { fontCache: "global" },
  startup: { typeset: false },
};
require(path.join(root, "startup.js"));

MathJax.startup.promise.then(() => {
  const adaptor = MathJax.startup.adaptor;
  process.stdout.write(JSON.stringify({ css: adaptor.textContent(MathJax.svgStylesheet()) }) + "\n");
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  lines.on("line", (line) => {
    const request = JSON.parse(line);
    let answer;
    if (request.defs) {
      const cache = MathJax.startup.output.fontCache;
      const defs = adaptor.outerHTML(cache.getCache());
      cache.clearCache();
      const svg = '<svg xmlns="http://www.w3.org/2000/svg" style="display: none" aria-hidden="true">';
      process.stdout.write(JSON.stringify({ html: svg + defs + "</svg>" }) + "\n");
      return;
    }
    try {
      MathJax.texReset();
      const node = MathJax.tex2svg(request.tex, { display: request.display });
      answer = { html: adaptor.outerHTML(node) };
    } catch (err) {
      answer = { error: String(err.message || err) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  });
}).catch((err) => { console.error(err); process.exit(1); });
