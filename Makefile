# Two commands for a fresh machine: `make demo` (the main job, offline) and `make test` (everything).
# Each creates or reuses the project venv in .venv and reinstalls when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lab lint install clean sandbox-tools chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Python graders run in bubblewrap's namespaces (rftkit/graders/isolation.py). Installed with
# apt-get where this runs as root (CI, containers); never fails the build: without bwrap the
# sandbox runs graders with in-process checks only and says so (CI's isolation tests then fail).
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; } \
	    || echo "note: could not install bubblewrap; python graders get in-process checks only"; \
	  else \
	    echo "note: install bubblewrap (bwrap) so python graders run in namespaces"; \
	  fi; }

# The JupyterLab browser test drives Chromium from the OS packages (never a downloaded browser).
# As root (CI) it is installed when missing; elsewhere the test skips without it, and fails in CI.
chromium:
	@command -v chromium >/dev/null 2>&1 || if [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y chromium || (apt-get update && apt-get install -y chromium); \
	else echo "chromium not installed: the browser test will skip (apt-get install chromium)"; fi

install: sandbox-tools chromium $(STAMP)

demo: sandbox-tools $(STAMP)
	$(PY) -m rftkit demo

test: sandbox-tools chromium $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports  # the layers in pyproject.toml
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV)
