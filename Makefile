# make demo   — create .venv if needed, install, run params/demo.yaml end to end (offline)
# make test   — create .venv if needed, install, run the whole test suite (offline)
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test clean-runs notebooks

$(STAMP): pyproject.toml requirements-lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements-lock.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m diffmix_utils.run params/demo.yaml

test: $(STAMP)
	$(PY) -m pytest -q

notebooks: $(STAMP)
	$(PY) tools/sync_notebooks.py

clean-runs:
	rm -rf runs figures/*/
