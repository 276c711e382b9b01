# Two commands for a fresh machine: `make demo` and `make test`.
# Both create the environment first (idempotent, see tools/setup_env.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
export OMP_NUM_THREADS ?= 2
export PYTHONUNBUFFERED = 1
export MPLBACKEND = Agg

.PHONY: env demo test lint clean

env:
	@bash tools/setup_env.sh

lint: env
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest tests -q -p no:cacheprovider

demo: env
	$(PY) tools/demo.py --work-dir work_dirs/demo

clean:
	rm -rf work_dirs .pytest_cache .ruff_cache
