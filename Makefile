# Two commands do all set-up on a fresh clone (only python3 >= 3.10, pip and make needed):
#   make run    creates .venv with the app's needs and starts the app on the shipped default model
#   make test   creates .venv with everything (training, export, app, tests), checks the import contracts and
#               ruff's rules (pyproject.toml [tool.importlinter], [tool.ruff]) and runs the whole suite headless
# GPU=1 installs onnxruntime-gpu instead of onnxruntime (never both: they share one module).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
GPU    ?= 0
ifeq ($(GPU),1)
ORT_EXTRA := gpu
ORT_OTHER := onnxruntime
else
ORT_EXTRA := cpu
ORT_OTHER := onnxruntime-gpu
endif
PYTEST_ARGS ?=

.PHONY: run test venv-app venv-all screenshots models-doc bench clean help

help:
	@echo "make run         start the app on the shipped default model (GPU=1 for onnxruntime-gpu)"
	@echo "make test        run the whole test suite headless"
	@echo "make screenshots write docs/*.png from the real app"
	@echo "make models-doc  write docs/models.md (numbers, samples, reconstructions of every shipped model)"
	@echo "make bench       run the benchmarks under bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.app-$(ORT_EXTRA): pyproject.toml | $(BIN)/python
	-$(BIN)/python -m pip uninstall --yes --quiet $(ORT_OTHER) 2>/dev/null
	$(BIN)/python -m pip install --quiet -e ".[app,$(ORT_EXTRA)]"
	touch $@

$(VENV)/.all-$(ORT_EXTRA): pyproject.toml | $(BIN)/python
	-$(BIN)/python -m pip uninstall --yes --quiet $(ORT_OTHER) 2>/dev/null
	$(BIN)/python -m pip install --quiet -e ".[app,$(ORT_EXTRA),train,test]"
	touch $@ $(VENV)/.app-$(ORT_EXTRA)

venv-app: $(VENV)/.app-$(ORT_EXTRA)
venv-all: $(VENV)/.all-$(ORT_EXTRA)

run: venv-app
	@$(BIN)/python -m desktop.system_check  # Qt's X11 libraries present? else prints the apt-get/dnf command
	$(BIN)/sketchgen $(ARGS)

test: venv-all
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest $(PYTEST_ARGS)

screenshots: venv-all
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop.screenshots docs

models-doc: venv-all
	$(BIN)/python -m export.gallery

bench: venv-all
	for b in bench/*.py; do TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
