// Typeset TeX to SVG at build time with the MathJax that sphinx-mathjax-offline ships (_ext/prerender_math.py).
// Protocol: argv[2] is MathJax's folder and argv[3] a JSON object of TeX macros. Each line on stdin is a
// JSON request {"tex": "...", "display": true|false}; each answer on stdout is one JSON line,
// {"html": "<mjx-container ...>"} or {"error": "the TeX error"}. A first line {"css": "..."} gives
// the stylesheet the SVG output needs.
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
  // Glyph paths inline in each formula: a page holds no shared cache, so any formula stands alone.
  svg: { fontCache: "none" },
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
