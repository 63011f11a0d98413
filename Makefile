# obie-tokens: every CI step is a target you can run locally. `make` alone lists them.

CARGO ?= cargo
SOAK_SECONDS ?= 120

.DEFAULT_GOAL := help
.PHONY: help run test lint fmt openapi contract fuzz soak bench

help: ## List the targets with a one-line description each
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

run: ## Serve the sandbox on 127.0.0.1:8080 (SQLite at ./data/obie-tokens.db)
	RUST_LOG="$${RUST_LOG:-info}" $(CARGO) run --release --locked -- serve --sandbox

test: ## Run every test (PostgreSQL ones when OBIE_TEST_POSTGRES_URL is set)
	@if [ -z "$$OBIE_TEST_POSTGRES_URL" ]; then \
		echo "NOTE: PostgreSQL tests are skipped; set OBIE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres to run them."; \
	fi
	$(CARGO) test --all-targets --locked

lint: ## Check formatting and run clippy with warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

openapi: ## Rewrite openapi/openapi.json from the code (bless a contract change)
	$(CARGO) run --quiet --locked -- openapi > openapi/openapi.json.tmp \
		|| { rm -f openapi/openapi.json.tmp; exit 1; }
	mv openapi/openapi.json.tmp openapi/openapi.json
	@git diff --stat -- openapi/openapi.json 2>/dev/null || true

contract: ## Lint the OpenAPI document, run schemathesis, generated clients and Swagger UI against a live server
	tests/contract/run.sh

bench: ## Benchmark the token flow against a bare actix-web baseline and node-oidc-provider (BENCH_QUICK=1: quick check)
	bench/run.sh

soak: ## Drive the full flow mix at a release server on loopback for SOAK_SECONDS (120); fails on errors or RSS growth
	$(CARGO) build --release --locked --bin obie-tokens --example soak
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) run --release --locked --quiet --example soak

FUZZ_SECONDS ?= 20
FUZZ_TARGETS := basic_auth headers json_body

# cargo-fuzz needs unstable rustc flags (-Zsanitizer); RUSTC_BOOTSTRAP=1 lets the installed
# stable toolchain accept them, so no nightly is needed.
fuzz: ## Fuzz each parser (Basic auth, headers, JSON body) for FUZZ_SECONDS (default 20) s; fails on a crash
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	@for target in $(FUZZ_TARGETS); do \
		echo "==> fuzz $$target for $(FUZZ_SECONDS)s"; \
		mkdir -p fuzz/corpus/$$target || exit 1; \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$target fuzz/corpus/$$target fuzz/seeds/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 || exit 1; \
	done
