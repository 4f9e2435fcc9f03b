# Every target creates and uses .venv by itself, so a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test test-browser screenshots lint bench wheel-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/batchtool run sample_data/ops_changes.xlsx --simulate --restart --results demo.results.csv

# The ops page with two simulators to send to ("Simulator", "Simulator 2"), on this machine only.
serve: $(STAMP)
	@echo "The ops page: http://127.0.0.1:8750 (Ctrl-C to stop)"
	@echo "Sign in as a user you add first, in another terminal: $(BIN)/batchtool users add NAME"
	$(BIN)/batchtool serve --simulate

# Everything; the browser tests are skipped, with the reason, where chromium is missing.
test: $(STAMP)
	$(BIN)/python -m pytest -q

# Only the end-to-end tests in a real browser (Debian's chromium: apt-get install chromium).
test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -m browser

# README's screenshots of the ops page (docs/screenshots/*.png), made by the browser tests.
screenshots: $(STAMP)
	BATCHTOOL_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/test_web_axe.py -k screenshots

lint: $(STAMP)
	$(BIN)/ruff check batchtool tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --reps 5

# batchtool as a user installs it: sdist and wheel built from this checkout, the wheel in a
# throwaway venv, then --version, a simulated run and the ops page (.ci/wheel-smoke). No .venv.
wheel-smoke:
	PYTHON=$(PYTHON) bash .ci/wheel-smoke

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
