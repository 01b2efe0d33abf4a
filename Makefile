# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3

.PHONY: test demo bench

# pytest is the only test dependency. When $(PYTHON) lacks it, it is installed into
# a project-local .venv (this also works where the system Python is "externally
# managed", as on Debian 12 and Ubuntu 24.04).
test:
	@if $(PYTHON) -c "import pytest" 2>/dev/null; then py="$(PYTHON)"; else \
		py=.venv/bin/python; \
		if ! $$py -c "import pytest" 2>/dev/null; then \
			echo "pytest is missing: installing it into .venv"; \
			$(PYTHON) -m venv .venv && $$py -m pip install --quiet pytest || exit 1; \
		fi; \
	fi; \
	echo "$$py -m pytest"; $$py -m pytest

# Three workers for real on a throwaway repository, with the scripted agent from tests/.
demo:
	$(PYTHON) tests/demo.py

# What the runner itself costs, next to baselines measured in the same run (not part of make test).
bench:
	$(PYTHON) tests/bench.py
