# The README's commands. `make run` and `make test` set everything up on a fresh machine that has
# only Python 3.11+: a virtual environment in .venv with every dependency pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format lock clean bench

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

install: $(BIN)/.installed

# Load the shipped sample (raw_data/) into the embedded PostgreSQL in .warehouse/ and report.
run: install
	$(BIN)/warehouse run --raw-data raw_data
	$(BIN)/warehouse status

test: install
	$(BIN)/pytest

# Throughput and memory of the pipeline against bare COPY, row-by-row inserts and dlt (see README).
# Override e.g. BENCH_ARGS="--sizes 100000,1000000 --repeats 3 --database-url postgresql://...".
BENCH_ARGS ?=
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-pin every dependency after changing pyproject.toml.
lock: install
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 --no-header \
		--no-annotate --output-file constraints.txt.new
	(head -2 constraints.txt; cat constraints.txt.new) > constraints.txt && rm constraints.txt.new

clean:
	-$(BIN)/warehouse db stop
	rm -rf $(VENV) .warehouse
