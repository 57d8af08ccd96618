# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create (or reuse) .venv. torch is installed first from the pinned CPU
# build so that resolving the package never pulls a CUDA wheel.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.gentk-installed
PYTEST_WORKERS ?= 2

.PHONY: venv demo test benchmark clean

venv: $(STAMP)

$(STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -e ".[tests,tensorboard]"
	touch $(STAMP)

demo: venv
	$(PY) tools/demo.py

test: venv
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(PYTEST_WORKERS) tests

benchmark: venv
	$(PY) tools/benchmark.py

clean:
	rm -rf work_dirs .pytest_cache
