# Two commands for a fresh machine: `make demo` (the main job, offline) and `make test` (everything).
# Each creates or reuses the project venv in .venv and reinstalls when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lab lint install clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) chromium

# The JupyterLab browser test drives Chromium from the OS packages (never a downloaded browser).
# As root (CI) it is installed when missing; elsewhere the test skips without it, and fails in CI.
chromium:
	@command -v chromium >/dev/null 2>&1 || if [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y chromium || (apt-get update && apt-get install -y chromium); \
	else echo "chromium not installed: the browser test will skip (apt-get install chromium)"; fi

demo: $(STAMP)
	$(PY) -m rftkit demo

test: $(STAMP) chromium
	$(PY) -m ruff check .
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV)
