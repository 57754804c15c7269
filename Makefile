# One place for the commands people and CI use. Everything installs into $(VENV).
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; a plain `pip install torch` may pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install run test lint bench browser clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q "$(TORCH)" -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) app.py

# Browser tests drive Debian's chromium; install it when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

# Extra pytest arguments: make test ARGS="-k citations -x"; WORKERS=0 runs in one process.
WORKERS ?= 2
test: install browser
	$(PY) -m pytest -n $(WORKERS) --dist worksteal $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The stock recipe the benchmarks compare against; langchain-huggingface goes in without its
# pins, which would downgrade huggingface-hub under sentence-transformers.
bench: install
	$(VENV)/bin/pip install -q ".[bench]"
	$(VENV)/bin/pip install -q --no-deps langchain-huggingface
	$(PY) bench/ingest.py
	$(PY) bench/query.py
	$(PY) bench/quality.py
	$(PY) bench/cli.py
	$(PY) bench/sync.py
	$(PY) bench/copies.py

clean:
	rm -rf $(VENV) data .pytest_cache
