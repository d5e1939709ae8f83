# The README's commands. `make run` and `make test` set everything up on a fresh machine that has
# only Python 3.11+: a virtual environment in .venv with every dependency pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run dagster api bench bench-scale docs test lint format lock clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

install: $(BIN)/.installed

# Load the shipped sample (raw_data/) into the embedded PostgreSQL in .warehouse/ and report.
run: install
	$(BIN)/warehouse run --raw-data raw_data
	$(BIN)/warehouse status

# The Dagster UI on http://localhost:3000 (webserver, daemon and code location in one command),
# on the same warehouse as `make run`; Dagster's own instance is kept in .dagster_home/.
dagster: install
	mkdir -p .dagster_home
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev -m pipelines.definitions

# Serve the marts over HTTP on http://127.0.0.1:8000 (docs at /docs), from the same warehouse.
# Needs a token: WAREHOUSE_API_TOKEN=local-dev-api-token make api
api: install
	$(BIN)/warehouse-api

test: install
	$(BIN)/pytest

# The documentation site (docs/, mkdocs.yml) on http://127.0.0.1:8001, rebuilt as pages change.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

# Throughput and memory of the pipeline against bare COPY, row-by-row inserts and dlt (docs/benchmarks.md).
# Override e.g. BENCH_ARGS="--sizes 100000,1000000 --repeats 3 --database-url postgresql://...".
BENCH_ARGS ?=
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Backfill throughput on 1 and 2 Celery workers, and a file's load time into an empty warehouse
# against one holding months of history (docs/scale-out.md, Capacity plan). Needs RabbitMQ on :5672.
# Override e.g. BENCH_SCALE_ARGS="--hours 16 --history-months 6".
BENCH_SCALE_ARGS ?=
bench-scale: install
	$(BIN)/python -m bench.scale_out $(BENCH_SCALE_ARGS)

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
