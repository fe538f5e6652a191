# Vox platform — every entry point. `make help` lists the targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/voxplatform/vox/version.Version=$(VERSION)
RUN_DIR  := $(CURDIR)/run
# Development-only secret for `make run`; production reads it from the unit's EnvironmentFile.
DEV_SECRET := dev-only-service-secret-change-me
DEV_FLEET_ID ?= dev-fleet
# nginx's group (Debian: www-data). `make run` gives the worker sockets under ./run to it, so that an
# nginx with the shipped site (deploy/nginx/voxfleet.conf) can reach them; only root or a member of the
# group may do so, otherwise it stays empty and only this user can connect (see docs/runbook.md).
NGINX_GROUP  ?= www-data
# The agent of `make run`'s calls that name no agent: demo (the offline voice pipeline and its booking script) when
# espeak-ng and PocketSphinx's model are installed (scripts/deps-voice.sh), else scripted (chime and echo).
# `make call` talks to the demo agent (--conversation) and plays the echo call to the scripted one.
DEFAULT_AGENT ?= $(shell command -v espeak-ng >/dev/null 2>&1 && [ -f /usr/share/pocketsphinx/model/en-us/en-us/mdef ] && echo demo || echo scripted)
SOCKET_GROUP ?= $(shell getent group $(NGINX_GROUP) >/dev/null && { [ "$$(id -u)" = 0 ] || id -nG | tr ' ' '\n' | grep -qx $(NGINX_GROUP); } && echo $(NGINX_GROUP))

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every binary into ./bin.
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

.PHONY: run
run: ## Run voxfleet with 4 workers under ./run (no external service needed); Ctrl-C drains, a second Ctrl-C stops now.
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/voxfleet ./cmd/voxfleet
	@mkdir -p $(RUN_DIR)
	@echo "make run: calls get the $(DEFAULT_AGENT) agent ($(if $(filter demo,$(DEFAULT_AGENT)),PocketSphinx + script + espeak-ng: make call holds a conversation,chime and echo: scripts/deps-voice.sh installs the voice engines of the demo agent))"
	VOX_SERVICE_SECRET=$(DEV_SECRET) VOXFLEET_FLEET_ID=$(DEV_FLEET_ID) VOXFLEET_DEFAULT_AGENT=$(DEFAULT_AGENT) $(BIN)/voxfleet run \
		--workers 4 \
		--socket-dir $(RUN_DIR) \
		--state-file $(RUN_DIR)/state.json \
		--upstream-file $(RUN_DIR)/voxfleet-upstream.conf \
		--listen 127.0.0.1:9180 \
		$(if $(SOCKET_GROUP),--socket-group $(SOCKET_GROUP)) \
		--hint

.PHONY: call
call: ## Place a test call on the fleet started by `make run`: a three-turn conversation with the demo agent (DEFAULT_AGENT=scripted: the echo call).
	@test -x $(BIN)/voxfleet || { echo "make call: no $(BIN)/voxfleet yet: start the fleet with 'make run' in another terminal (it builds voxfleet) and wait until it says its workers are ready" >&2; exit 1; }
	@VOX_SERVICE_SECRET=$(DEV_SECRET) VOXFLEET_FLEET_ID=$(DEV_FLEET_ID) $(BIN)/voxfleet call --socket-dir $(RUN_DIR) $(if $(filter demo,$(DEFAULT_AGENT)),--conversation) $(if $(AGENT_ID),--agent-id $(AGENT_ID)) $(if $(CARRIER),--carrier $(CARRIER))

.PHONY: dev
dev: ## The whole platform on loopback (MongoDB-wire server, Redis, MinIO, LiveKit, voxbridge, voxfleet behind nginx, voxdialler, the Console); Ctrl-C stops it all.
	@if [ -x $(BIN)/voxdev ]; then $(BIN)/voxdev status >/dev/null 2>&1; [ $$? = 2 ] || { echo "make dev: a stack is already running from .dev (make dev-status shows it): stop it first (Ctrl-C where it runs)" >&2; exit 1; }; fi
	./scripts/deps-dev.sh
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...
	cd frontend && npm run --silent build
	$(BIN)/voxdev up

.PHONY: dev-deps
dev-deps: ## Install what `make dev` runs (nginx, Redis, Opus, offline voice, MongoDB-wire server, MinIO, livekit-server, Node); idempotent.
	./scripts/deps-dev.sh

.PHONY: dev-status
dev-status: ## Health of every part started by `make dev`.
	@$(BIN)/voxdev status

.PHONY: dev-call
dev-call: ## Place a test call through the fleet started by `make dev`.
	@$(BIN)/voxdev call

.PHONY: deps
deps: ## Install what the tests need (idempotent).
	./scripts/deps-voice.sh
	./scripts/deps.sh

.PHONY: test
test: deps check ## Install test dependencies (cgo headers for LiveKit media first: `go vet` needs them), run `make check`, then every test with -race.
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) console-lint console-typecheck console-test console-build console-e2e

.PHONY: console-deps
console-deps: ## Install Node, Chromium and the Console's npm packages (npm ci).
	./scripts/deps-console.sh

.PHONY: console-lint
console-lint: console-deps ## Lint the Console (eslint).
	cd frontend && npm run lint

.PHONY: console-typecheck
console-typecheck: console-deps ## Type-check the Console against the committed OpenAPI document.
	cd frontend && npm run typecheck

.PHONY: console-test
console-test: console-deps ## The Console's unit tests (vitest).
	cd frontend && npm test

.PHONY: console-build
console-build: console-deps ## Build the Console into frontend/dist and print its gzipped JavaScript size (budget 200 KB).
	cd frontend && npm run build

.PHONY: console-e2e
console-e2e: console-build deps ## Browser tests: Chromium against voxbridge (FerretDB, Redis, MinIO), voxfleet and nginx; screenshots in frontend/e2e/artifacts.
	$(GO) test -tags e2e -count=1 -timeout 15m -run TestConsoleE2E ./internal/consolee2e

.PHONY: check
check: ## gofmt, go vet, staticcheck, go mod tidy diff, import boundaries.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	./scripts/check-tidy.sh
	./scripts/check-imports.sh

.PHONY: verify-units
verify-units: build ## systemd-analyze verify every unit in deploy/systemd against the binaries just built (nothing installed).
	./scripts/deps-minio.sh
	./scripts/verify-units.sh

.PHONY: bench
bench: build deps ## Run the benchmarks and print figures (see docs/BENCHMARKS.md).
	./bench/fleet.sh
	$(GO) run ./bench/bridge -get-rate 1000 -put-rate 100 -duration 10s

.PHONY: bench-baseline
bench-baseline: ## The seed's design (uvicorn + supervisor + its nginx upstream) and voxfleet, same scenarios, side by side.
	./scripts/deps-baseline.sh
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/voxfleet ./cmd/voxfleet
	$(GO) run ./bench/baseline -bin $(BIN)/voxfleet

.PHONY: bench-dialler
bench-dialler: ## Predictive pacing against one-per-free, the best fixed ratio and VICIdial's ADAPT_HARD_LIMIT, in a seeded campaign simulation.
	$(GO) run ./bench/dialsim

.PHONY: bench-media
bench-media: deps ## LiveKit media capacity: K concurrent calls, one worker process each, callers in another (BENCH_MEDIA_FLAGS, e.g. -k 1,8,16 -single -complexity 9).
	$(GO) run ./bench/media $(BENCH_MEDIA_FLAGS)

.PHONY: bench-voice
bench-voice: deps ## The voice pipeline: recogniser WER and real-time factor on espeak-ng fixtures, per-turn latency split, barge-in stop and CPU per call (offline defaults).
	$(GO) run ./bench/voice

.PHONY: soak
soak: deps ## Load-and-fault suite: every operator action under load through real nginx (VOX_SOAK_SECONDS per scenario, default 30).
	VOX_SOAK_SECONDS=$${VOX_SOAK_SECONDS:-30} $(GO) test -count=1 -v -timeout 60m -run 'TestSoak$$' ./integration/ | grep -v '^\s*{'

.PHONY: clean
clean: ## Remove build output and ./run.
	rm -rf $(BIN) $(RUN_DIR)
