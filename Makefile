# Two commands set everything up on a fresh machine: `make book` and `make test`.
# Python 3.11 is the only prerequisite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The environment's own kernel spec comes first, whatever a user has registered.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export PYDEVD_DISABLE_FILE_VALIDATION := 1
unexport MPLBACKEND

.PHONY: book html test unit notebooks execute lab assignments grade pdf clean help

help:
	@echo "make book    build the HTML book into _build/html (sets up .venv first)"
	@echo "make test    unit tests, notebook re-execution (nbval), build and site checks"
	@echo "make execute re-run every notebook in place (authors)"
	@echo "make lab     open JupyterLab in the book's environment"

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 (e.g. 'apt install python3.11 python3.11-venv' or pyenv) and re-run"; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "error: $(PYTHON) lacks venv/ensurepip; install the python3.11-venv package and re-run"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (book)" >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

html: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going --quiet
	@echo "Book built: $(CURDIR)/_build/html/index.html"

book: html

test: html
	$(BIN)/python -m pytest

execute: $(STAMP)
	$(BIN)/python -m book.execute $(NOTEBOOKS)

lab: $(STAMP)
	$(BIN)/jupyter lab

clean:
	rm -rf _build
