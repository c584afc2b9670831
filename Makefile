.PHONY: run test lint bench bench-quick docs

run:  ## Run Rampart on the embedded default (SQLite, local key file, in-process scheduler)
	bash scripts/bootstrap.sh
	uv run --frozen rampart serve

test:  ## Set up everything and run lint, types and the whole test suite
	bash scripts/test.sh

lint:
	uv run --frozen ruff check . && uv run --frozen ruff format --check . && uv run --frozen mypy

bench:  ## Side-by-side benchmarks against the anchors (prints ratios)
	bash scripts/bench.sh

bench-quick:  ## Every benchmark for seconds (run by `make test`): proves each still runs, no figures
	bash scripts/bench.sh --smoke

docs:  ## Regenerate the settings reference
	uv run --frozen python -m core.settings_doc > docs/configuration.md
