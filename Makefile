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

.PHONY: book html test test-fast test-gpu execute lab assignments grade pdf clean help

help:
	@echo "make book    build the HTML book into _build/html (sets up .venv first)"
	@echo "make test    unit tests, notebook re-execution (nbval), build and site checks (what CI runs),"
	@echo "            then the chapters again on a simulated other CPU (the portability pass)"
	@echo "make test-fast  unit tests only (pytest -m unit), under a minute"
	@echo "make test-gpu   every notebook and the book.nn-vs-torch tests on the first CUDA device"
	@echo "make execute re-run every notebook in place (authors)"
	@echo "make lab     open JupyterLab in the book's environment"
	@echo "make assignments   student and autograder notebooks into _build/assignments"
	@echo "make grade ASSIGNMENT=02-linear-models SUBMISSIONS=dir [OUT=dir]   grade a folder of submissions,"
	@echo "            each in a bubblewrap sandbox (apt-get install bubblewrap; GRADE_OPTS=--no-sandbox grades without it)"
	@echo "make pdf     printable edition via XeLaTeX (needs TeX packages; see the message)"

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 (e.g. 'apt install python3.11 python3.11-venv' or pyenv) and re-run"; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "error: $(PYTHON) lacks venv/ensurepip; install the python3.11-venv package and re-run"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (book)" >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

# --all: an incremental Sphinx build keeps the old navigation on pages whose
# source did not change when _toc.yml does; a full build takes about 15 s.
html: $(STAMP)
	$(BIN)/python -m tools.exercise_downloads
	$(BIN)/jupyter-book build . --all --warningiserror --nitpick --keep-going --quiet
	@echo "Book built: $(CURDIR)/_build/html/index.html"

book: html

# The kernel pins of tools/kernels.py apply to every path that runs notebooks (execute, test,
# test-gpu): each calls tools.kernels.apply() before it starts a kernel. After the whole suite,
# the portability pass runs every chapter again on a simulated other CPU (BOOK_CPU=other).
test: html
	@$(BIN)/python -m tools.kernels
	$(BIN)/python -m pytest
	@if BOOK_CPU=other $(BIN)/python -m tools.kernels; then \
	  BOOK_CPU=other $(BIN)/python -m pytest -m notebooks chapters; fi

# Tiers are pytest markers set in conftest.py: unit, notebooks, site, grading.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m unit tests

# Needs a CUDA build of torch; without a CUDA device it says so and exits 0.
test-gpu: $(STAMP)
	$(BIN)/python -m tools.gpu_check

execute: $(STAMP)
	$(BIN)/python -m tools.execute $(NOTEBOOKS)

lab: $(STAMP)
	$(BIN)/jupyter lab

# Auto-graded exercises (otter-grader; see chapters/teaching.md). `assignments` builds
# _build/assignments/<chapter>/{student,autograder} and fails if a reference solution fails
# its tests. `grade` writes $(OUT)/grades.csv, grading each submission in a bubblewrap
# sandbox (it stops with an install hint when bwrap is missing); AUTOGRADER= takes a private
# master notebook, autograder zip or folder; GRADE_OPTS= passes --timeout, --cell-timeout,
# --memory, --workers, and --no-sandbox to grade without isolation at your own risk.
assignments: $(STAMP)
	$(BIN)/python -m tools.grading assign --out _build/assignments

grade: $(STAMP)
	@if [ -z "$(ASSIGNMENT)" ] || [ -z "$(SUBMISSIONS)" ]; then \
	  echo "usage: make grade ASSIGNMENT=02-linear-models SUBMISSIONS=<folder> [OUT=<folder>] [AUTOGRADER=<private master, zip or folder>]"; \
	  exit 2; \
	fi
	$(BIN)/python -m tools.grading grade --assignment "$(ASSIGNMENT)" --submissions "$(SUBMISSIONS)" \
	  --out "$(or $(OUT),_build/grades/$(ASSIGNMENT))" $(if $(AUTOGRADER),--autograder "$(AUTOGRADER)") $(GRADE_OPTS)

# Printable edition, _build/latex/book.pdf, via XeLaTeX (not part of `make test`).
PDF_DEBS := texlive-xetex texlive-latex-extra texlive-lang-chinese texlive-fonts-recommended fonts-freefont-otf fonts-noto-cjk latexmk
pdf: $(STAMP)
	@missing=""; \
	for tool in xelatex latexmk kpsewhich fc-list; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -z "$$missing" ]; then \
	  for sty in xeCJK.sty fncychap.sty; do kpsewhich $$sty >/dev/null || missing="$$missing $$sty"; done; \
	  fc-list | grep -q "Noto Serif CJK SC" || missing="$$missing Noto-Serif-CJK-font"; \
	  fc-list | grep -q "FreeSerif" || missing="$$missing FreeSerif-font"; \
	fi; \
	if [ -n "$$missing" ]; then \
	  echo "error: make pdf needs XeLaTeX with xeCJK, latexmk and the Noto CJK and FreeFont fonts (missing:$$missing)."; \
	  echo "  On Debian/Ubuntu: sudo apt-get install --no-install-recommends $(PDF_DEBS)"; \
	  echo "  (about 200 MB to download, 600 MB installed)"; \
	  exit 1; \
	fi
	$(BIN)/jupyter-book build . --builder pdflatex --keep-going --quiet
	@echo "PDF built: $(CURDIR)/_build/latex/book.pdf"

clean:
	rm -rf _build
