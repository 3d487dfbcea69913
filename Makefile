# One-command set-up and the main jobs. `make book` builds the results book on the demo profile, `make test-all` runs
# the whole test suite (what CI runs), `make test` its fast tier; each creates the virtual environment .venv first if
# needed.
#
# Choosing an interpreter (Python 3.11, 3.12 or 3.13): `make PYTHON=python3.13 book`. PYTHON makes the venv VENV
# (.venv, which every command of the README names). Given PYTHON, an existing venv must be of that Python version, or
# make stops with one line saying what to do (VENV=.venv-3.13 for a second venv, or remove .venv): a venv is never
# silently reused by another interpreter. Without PYTHON, an existing .venv is used as it is.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# runs scripts/interpreters.py (standard library only): finds interpreters and checks a venv against PYTHON
HELPER ?= python3
EXPLICIT := $(filter command line environment environment override,$(origin PYTHON))

.PHONY: setup book test test-all test-others check-python paper-env lab teach benchmark benchmark-book screenshots clean

check-python:
	@$(HELPER) scripts/interpreters.py check-venv $(VENV) --python "$(PYTHON)" $(if $(EXPLICIT),--explicit) \
		--goals "$(MAKECMDGOALS)"

# scripts/install.py: requirements.txt, requirements-nodeps.txt (--no-deps) and evalkit (-e), the install that the
# teaching notebook's first cell runs on Colab
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml setup.py scripts/install.py | check-python
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python scripts/install.py
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

setup: $(STAMP)

book: $(STAMP)
	$(BIN)/evalkit book --profile demo

# The fast tier: unit and small integration tests on generated audio (minutes). The tests marked `slow` build the test
# book, run notebooks through papermill, start Dask clusters, train full CNNs or run the documented examples end to
# end; `make test-all` runs them too.
# PYTEST_ARGS passes options on, e.g. PYTEST_ARGS="--durations=25" (where the time goes) or "-x -k claims".
PYTEST_ARGS ?=
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# `make test-all` (CI): the whole suite on PYTHON (in VENV), then the fast tier on every other supported interpreter
# found on this machine (pythonX.Y on PATH, then pyenv's versions folder), each in a venv of its own (.venv-X.Y),
# saying which it found and which it skipped and why. OTHER_PYTHONS= (empty) turns that off; OTHER_PYTHONS="3.12" or
# a list of interpreters' paths chooses them. It fails if any run fails, after running them all.
OTHER_PYTHONS ?= auto
FAILED := $(VENV)/.test-all-failed
test-all: $(STAMP)
	@rm -f $(FAILED); echo "make test-all: the whole suite on Python $$($(BIN)/python -V 2>&1 | cut -d' ' -f2) ($(VENV))"
	$(BIN)/python -m pytest -q $(PYTEST_ARGS) || touch $(FAILED)
	$(MAKE) --no-print-directory test-others || touch $(FAILED)
	@if test -e $(FAILED); then rm -f $(FAILED); echo "make test-all: FAILED (see above)"; exit 1; fi

test-others: $(STAMP)
ifneq ($(strip $(OTHER_PYTHONS)),)
	@$(HELPER) scripts/interpreters.py others --except $(BIN)/python \
		$(if $(filter-out auto,$(OTHER_PYTHONS)),--only "$(OTHER_PYTHONS)") > $(VENV)/.other-pythons
	@status=0; set -- $$(cat $(VENV)/.other-pythons); \
	while [ $$# -ge 2 ]; do \
		echo "make test-all: the fast tier on Python $$1 ($$2), in .venv-$$1"; \
		$(MAKE) --no-print-directory test PYTHON="$$2" VENV=.venv-$$1 OTHER_PYTHONS= < /dev/null || status=1; \
		shift 2; \
	done; exit $$status
else
	@echo "make test-all: OTHER_PYTHONS is empty: no other interpreter"
endif

# The paper profile's OpenL3 (openl3 0.4.2 with kapre 0.3.6: TensorFlow <= 2.15, Keras 2, Python 3.11) in a venv of
# its own, PAPER_VENV, with requirements-paper.txt and this evalkit. evalkit's openl3 extractor finds it next to the
# checkout (or wherever $EVALKIT_PAPER_PYTHON points) and runs the model there, in a worker process. Needs a
# network (openl3 downloads its weights while it installs) and a Python 3.11 (PAPER_PYTHON, else looked for as
# above).
PAPER_VENV ?= .venv-paper
PAPER_PYTHON ?= $(shell $(HELPER) scripts/interpreters.py find 3.11 2>/dev/null)
paper-env: $(PAPER_VENV)/.installed

$(PAPER_VENV)/.installed: requirements-paper.txt pyproject.toml setup.py
	@python=$$(test -x $(PAPER_VENV)/bin/python || echo "$(PAPER_PYTHON)"); \
	if ! test -x $(PAPER_VENV)/bin/python; then \
		test -n "$$python" || { echo "make paper-env: no Python 3.11 found (on PATH, in pyenv): install one or" \
			"name it: make PAPER_PYTHON=/path/to/python3.11 paper-env" >&2; exit 2; }; \
		echo "$$python -m venv $(PAPER_VENV)"; $$python -m venv $(PAPER_VENV); \
	fi
	$(PAPER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-paper.txt
	$(PAPER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@
	@echo "make paper-env: OpenL3 runs in $(PAPER_VENV)/bin/python, which evalkit finds next to this checkout"

# JupyterLab on the notebooks, ready to run (each notebook's first cell holds its parameters).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# The teaching chapter's quick variant, as a notebook and as HTML: the lesson's task (the notebook's default) with
# one repetition, two training shares and a CNN limited to TEACH_CNN_EPOCHS epochs, so that it runs in under 5 minutes
# on a laptop from the demo audio alone (the page says when the CNN ended at that limit). Results are cached under
# data/, so a second run only renders. `make teach TEACH_PARAMS=` runs the full lesson instead. The kernel's stderr
# comes to the console: the estimate of the lesson's work on this machine, then its progress bar.
TEACH_CNN_EPOCHS ?= 20
TEACH_PARAMS ?= -p repetitions 1 -y "train_fractions: [0.1, 0.8]" -p cnn_epochs $(TEACH_CNN_EPOCHS)
teach: $(STAMP)
	mkdir -p _build/teach
	$(BIN)/papermill notebooks/teaching.ipynb _build/teach/teaching.ipynb $(TEACH_PARAMS) --cwd _build/teach \
		--stderr-file /dev/stderr
	$(BIN)/jupyter nbconvert --to html --TagRemovePreprocessor.enabled=True \
		--TagRemovePreprocessor.remove_cell_tags='["remove-cell","parameters","injected-parameters"]' \
		--TagRemovePreprocessor.remove_input_tags='["remove-input"]' _build/teach/teaching.ipynb
	@echo "open _build/teach/teaching.html"

benchmark: $(STAMP)
	$(BIN)/python benchmarks/extraction.py

benchmark-book: $(STAMP)
	$(BIN)/python benchmarks/book_build.py

# Every page of the built book (make book first) as PNG in _build/screenshots/, with headless Chromium;
# SCREENSHOT_ARGS="--dark" or "--width 390" for the dark theme or a phone.
SCREENSHOT_ARGS ?=
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py $(SCREENSHOT_ARGS)

clean:
	rm -rf _build book/_generated
