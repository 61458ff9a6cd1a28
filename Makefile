# patd: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go

# The local database `make run` uses; tests create and drop their own.
DEV_DB       ?= patd
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/$(DEV_DB)?sslmode=disable
REDIS_URL    ?= redis://127.0.0.1:6379/0
PORT         ?= 8080

.PHONY: run test services generate check-generated tidy vet bench bench-go bench-webhooks fuzz build federation-deps e2e-deps soak

## run: start PostgreSQL and Redis if needed, create the database, serve in development mode
run: services
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$(DEV_DB)'" | grep -q 1 \
		|| psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $(DEV_DB)"
	PATD_ENV=development DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' PORT=$(PORT) $(GO) run ./cmd/patd serve

## test: the whole suite: generated code up to date, vet, race-enabled tests
test: services federation-deps e2e-deps check-generated tidy vet
	$(GO) test -race -count=1 -timeout 8m ./...

services:
	@./scripts/services.sh

# npm-ci installs the node_modules of directory $(1) unless they are newer
# than its package-lock.json.
define npm-ci
@cd $(1) && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }
endef

federation-deps:
	$(call npm-ci,test/federation)

# The gateway end-to-end suite (test/e2e): Apollo Gateway, Apollo Server.
e2e-deps:
	$(call npm-ci,test/e2e)

build:
	$(GO) build -o bin/patd ./cmd/patd

## generate: regenerate db/ (sqlc), graph/ (gqlgen) and GraphiQL's vendored build (npm)
generate:
	$(GO) generate .

# The generated files must be exactly what the generators write from the
# committed schema and queries: generate, and fail if anything changed.
GENERATED = db/*.go graph/generated.go graph/federation.go graph/model/models_gen.go graph/*.resolvers.go internal/graphiql/assets/vendor/*
check-generated:
	@before=$$(cat $(GENERATED) | sha256sum); \
	$(GO) generate . && \
	after=$$(cat $(GENERATED) | sha256sum) && \
	if [ "$$before" != "$$after" ]; then git --no-pager diff --stat -- db graph internal/graphiql/assets; echo "generated code was stale: it is now regenerated; review and commit it"; exit 1; fi

# go.mod and go.sum must be what `go mod tidy` makes of the imports.
tidy:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

vet:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

## bench: patd under load side by side with the machine's limit (cmd/patd-bench): one table, about three minutes
BENCHFLAGS ?=
bench: services
	$(GO) build -o bin/patd ./cmd/patd
	$(GO) build -o bin/benchlimit ./cmd/benchlimit
	$(GO) build -o bin/patd-bench ./cmd/patd-bench
	./bin/patd-bench -patd bin/patd -limit bin/benchlimit $(BENCHFLAGS)

## bench-go: the Go benchmarks (ns, bytes and allocations per validate among them)
bench-go: services
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-webhooks: measure, on two replicas, leak report → refusal everywhere and webhook throughput and latency
bench-webhooks: services
	PATD_MEASURE=1 $(GO) test -count=1 -run '^TestMeasureLeaksAndWebhooks$$' -v ./internal/webhooks | grep -E 'measure_test|^(ok|FAIL|---)'

## fuzz: run every fuzz target for FUZZTIME each (the parsers: token, Date, cursor, CSV, request bodies)
FUZZTIME ?= 20s
fuzz: services
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "$$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## soak: the soak make test runs for 25 s (TestSoak), longer and at a higher rate: three
## replicas under mixed load with a PostgreSQL outage; prints revocation latency across
## replicas and answers by status (SOAK_DURATION, SOAK_OUTAGE, SOAK_VALIDATE_RATE)
SOAK_DURATION ?= 120s
SOAK_OUTAGE ?= 3s
SOAK_VALIDATE_RATE ?= 300
soak: services
	@set -o pipefail; SOAK_DURATION=$(SOAK_DURATION) SOAK_OUTAGE=$(SOAK_OUTAGE) SOAK_VALIDATE_RATE=$(SOAK_VALIDATE_RATE) \
		$(GO) test -run '^TestSoak$$' -count=1 -timeout 20m -v ./internal/replicas/ 2>&1 \
		| grep -v 'pattest.go:[0-9]*: {"time"'
