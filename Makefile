# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3

.PHONY: test e2e demo bench bench-report bench-race bench-sandbox bench-memory

# pytest is the only test dependency. When $(PYTHON) lacks it, it is installed into
# a project-local .venv (this also works where the system Python is "externally
# managed", as on Debian 12 and Ubuntu 24.04).
PYTEST = if $(PYTHON) -c "import pytest" 2>/dev/null; then py="$(PYTHON)"; else \
		py=.venv/bin/python; \
		if ! $$py -c "import pytest" 2>/dev/null; then \
			echo "pytest is missing: installing it into .venv"; \
			$(PYTHON) -m venv .venv && $$py -m pip install --quiet pytest || exit 1; \
		fi; \
	fi; \
	echo "$$py $(1)"; $$py $(1)

# Four pytest processes share the tests (tests/run_tests.py): most tests wait on real
# subprocesses, so one process leaves the CPUs half idle. TEST_JOBS=N for N processes (1: one
# plain pytest); PYTEST_ARGS go to each, e.g. make test PYTEST_ARGS="tests/test_yaml.py -x".
test:
	@$(call PYTEST,tests/run_tests.py $(if $(TEST_JOBS),--jobs $(TEST_JOBS)) $(PYTEST_ARGS))

# The real agent CLIs (installed at pinned versions into ~/.cache/architect-parallel-e2e,
# reused when present) against stand-in model servers on 127.0.0.1. Needs Node.js 20+
# with npm, and a Python 3.12 (aider-chat and architect-ai-cli need it). See the README.
e2e:
	@$(call PYTEST,-m pytest tests/e2e -o python_files='e2e_*.py')

# Three workers for real on a throwaway repository, with the scripted agent from tests/.
demo:
	$(PYTHON) tests/demo.py

# What the runner itself costs, next to baselines measured in the same run (not part of make test).
bench:
	$(PYTHON) tests/bench.py

# Only the HTML report's figure: 10 workers with 5,000 changed lines each (a few seconds).
bench-report:
	$(PYTHON) tests/bench.py report

# Only the race: 10 scripted agents, one passes after 1 s, without and with --stop-on-pass (~35 s).
bench-race:
	$(PYTHON) tests/bench.py race

# Only the runner's peak memory when an agent leaves 200,000 files, or 50,000 of 3.9 KB names (~1 min).
bench-memory:
	$(PYTHON) tests/bench.py memory

# Only what --sandbox bwrap costs per command and per worker (a few seconds; needs bwrap).
bench-sandbox:
	$(PYTHON) tests/bench.py sandbox
