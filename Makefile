# One-command set-up and the main jobs. `make book` builds the results book on the demo profile, `make test-all` runs
# the whole test suite (what CI runs), `make test` its fast tier; each creates the virtual environment .venv first if
# needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup book test test-all lab teach benchmark benchmark-book screenshots clean

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
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

test-all: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

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
