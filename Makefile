# Two commands for a new user: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow test-delta-spark lint wheel clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vista demo

# Two sessions: the suite on the delta-rs engine (no JVM Delta), then the tests marked
# delta_spark (lake contract, cross-engine, erasure) on delta-spark, with
# Delta's JARs fetched from Maven Central into .vista/ivy by Spark itself.
# Tests marked slow (incremental runs compared with full rebuilds, kill and resume,
# forget-purge-reingest, whole lakes of unusual shape) are left to `make test-slow`,
# which CI runs too.
test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15 -m "not slow"
	VISTA_TEST_ENGINE=delta-spark $(BIN)/python -m pytest -q -m "delta_spark and not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -rs --durations=10 -m slow

# Only the delta-spark session (a quick check of that engine).
test-delta-spark: $(STAMP)
	VISTA_TEST_ENGINE=delta-spark $(BIN)/python -m pytest -q -m delta_spark

lint: $(STAMP)
	$(BIN)/ruff check .

wheel: $(STAMP)
	$(BIN)/python -m build --wheel

clean:
	rm -rf $(VENV) .vista build dist lib/*.egg-info
