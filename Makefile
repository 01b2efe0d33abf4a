# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3

.PHONY: test demo

# pytest is the only test dependency; install it when it is missing.
test:
	@$(PYTHON) -c "import pytest" 2>/dev/null || $(PYTHON) -m pip install --quiet pytest \
		|| $(PYTHON) -m pip install --quiet --user pytest
	$(PYTHON) -m pytest

# Three workers for real on a throwaway repository, with the scripted agent from tests/.
demo:
	$(PYTHON) tests/demo.py
