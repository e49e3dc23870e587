# make demo   — create .venv if needed, install, run params/demo.yaml end to end (offline)
# make test   — create .venv if needed, install, run the unit and stage tests (tests/, offline)
# make verify — compare the finished demo with the kit's published results (results/demo/)
# make test-ui — JupyterLab in headless Chromium (needs Debian's chromium)
# make test-process — Ctrl-C / SIGTERM / SIGHUP and two runners on one store, with real processes (a few minutes)
# make test-cluster — the slurm executor on a real one-node SLURM cluster (Debian's slurm-wlm and munge)
# make fuzz   — the property tests of bad parameter files and datasets, searching deeper
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo verify test test-ui test-process test-cluster fuzz clean-runs notebooks

$(STAMP): pyproject.toml requirements-lock.txt tools/jupyterlab-overrides.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements-lock.txt -e '.[dev]'
	# JupyterLab starts a notebook's own kernel on open (no "Select Kernel" dialog)
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp tools/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m diffmix_utils.run params/demo.yaml

test: $(STAMP)
	$(PY) -m pytest -q

# the finished demo against the kit's published results: "identical" on the platform that made them
verify: $(STAMP)
	$(PY) -m diffmix_utils.verify params/demo.yaml

# JupyterLab in a real browser: headless Debian chromium driven by Playwright (no browser download)
test-ui: $(STAMP)
	@command -v chromium >/dev/null || { echo "make test-ui needs Debian's chromium browser:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y chromium"; exit 2; }
	$(PY) -m pip install -q -c requirements-lock.txt -e '.[ui]'
	$(PY) -m pytest -q tests_ui

# signals and concurrent runners: real runners in their own process groups, signalled as a terminal does
test-process: $(STAMP)
	$(PY) -m pytest -q -s tests_process

# the slurm executor against a real SLURM cluster started in a temp folder (munged, slurmctld, slurmd)
test-cluster: $(STAMP)
	@command -v slurmctld >/dev/null && command -v munged >/dev/null || { echo "make test-cluster needs Debian's slurm-wlm and munge:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y slurm-wlm munge"; exit 2; }
	$(PY) -m pytest -q -s tests_cluster

# the property tests with a deeper search (fresh randomness, 3000 examples each) than make test's
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/test_fuzz_params.py tests/test_fuzz_data.py

notebooks: $(STAMP)
	$(PY) tools/sync_notebooks.py

clean-runs:
	rm -rf runs figures/*/
