# mathapi — every day-to-day command. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
COMPOSE ?= docker compose
# Where `make generate-traffic` sends requests (Traefik under `make demo`, the all-in-one under `make run`).
TRAFFIC_URL ?= http://localhost:8000
TRAFFIC_ARGS ?= --duration 60s --rate 50
# How many times in a row `make test-under-load` runs `make test`.
TEST_UNDER_LOAD_RUNS ?= 5
# How long `make fuzz` runs each fuzz target.
FUZZ_SECONDS ?= 300

.DEFAULT_GOAL := help
.PHONY: help run run-services test test-under-load lint fmt bench bench-pairs bench-proxy bench-stepper attack-idempotency request-cost soak attack schemathesis demo generate-traffic logs down kill smoke check-stack check-k8s check-edge capacity build release fuzz demo-incident demo-incident-native generate

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

build: ## Debug build of the whole workspace
	$(CARGO) build --workspace

release: ## Release build of every binary
	$(CARGO) build --release --workspace --bins

run: ## Every API in one process on http://127.0.0.1:8000
	$(CARGO) run --release --bin mathapi

run-services: ## Every function's service as its own process, on its port (configs/functions.json)
	scripts/run-services.sh

test-under-load: ## make test TEST_UNDER_LOAD_RUNS times (default 5) in a row beside two CPU-bound processes
	scripts/test-under-load.sh $(TEST_UNDER_LOAD_RUNS)

test: ## Every test (unit, property, integration over real HTTP); needs redis-server on PATH
	scripts/test.sh

fuzz: ## Every cargo-fuzz target for FUZZ_SECONDS each (default 300); CI runs 20 s each
	scripts/fuzz.sh $(FUZZ_SECONDS)

lint: ## rustfmt (workspace, fuzz/), clippy and rustdoc with warnings as errors, ruff check and format
	scripts/lint.sh

fmt: ## Format the code: rustfmt (workspace, fuzz/) and ruff format
	scripts/lint.sh fmt

bench: ## Throughput and latency against a bare poem handler; writes target/bench/
	scripts/bench.sh

bench-proxy: ## Requests per Traefik CPU-second, repository configuration against minimal; target/bench/proxy.md
	scripts/bench-proxy.sh

bench-stepper: ## The sequence stepper's steps/s over HTTP, 64 connections, both backends
	scripts/bench-stepper.sh

attack-idempotency: ## RSS per Idempotency-Key under distinct long keys, both backends; target/attack/
	scripts/attack-idempotency.sh

bench-pairs: ## Wall-clock ratios as the median of adjacent pairs (warn vs bare, traced vs untraced)
	scripts/bench-pairs.sh

request-cost: ## Instructions per request under callgrind (repeatable on a busy machine)
	scripts/request-cost.sh

attack: ## Header flood, render-cache scan, /metrics flood on the release build; RSS and figures to target/attack/
	scripts/attack.sh

soak: ## 10 minutes at 1,000 requests/s of mixed traffic; RSS and fds to target/soak/samples.csv
	scripts/soak.sh

schemathesis: ## schemathesis --checks all, every phase, on every service's document (defaults and caps)
	scripts/schemathesis.sh

demo: ## The whole stack in Docker: services, Traefik, Prometheus, Grafana, ELK
	scripts/demo.sh

demo-incident: ## In the running stack: a fault on, the alert fires, where to look, fault off, alert resolves
	scripts/demo-incident.sh

demo-incident-native: ## The same incident without Docker: services, Traefik, Prometheus natively (~5 min)
	scripts/demo-incident.sh --native

generate-traffic: ## Valid and invalid requests against TRAFFIC_URL
	$(CARGO) run --release --bin mathapi-traffic -- --url $(TRAFFIC_URL) $(TRAFFIC_ARGS)

logs: ## Follow the stack's logs
	$(COMPOSE) logs -f --tail=100

down: ## Stop the stack and remove its containers (volumes are kept)
	$(COMPOSE) down

kill: down ## Alias of `down`

smoke: ## Bring the stack up, check it end to end, tear it down (needs Docker)
	scripts/smoke-stack.sh

generate: ## Rewrite every generated file: configs/functions.json, compose/Traefik/Prometheus backends, dashboards, Kubernetes
	scripts/generate.sh

check-stack: ## Verify the stack without Docker: schemas, linters, promtool, live Prometheus scrape, tests/stack
	scripts/check-stack.sh

check-edge: ## The per-client limits with the real Traefik: a flooding client gets 429s, another keeps its p99
	scripts/check-edge.sh

check-k8s: ## Verify deploy/kubernetes without a cluster: render, schemas, CRDs, checkov, contract test
	scripts/check-k8s.sh

capacity: ## Measure the capacity inputs (release build, Traefik, Redis) and rewrite docs/scaling.md's table
	scripts/capacity.sh
