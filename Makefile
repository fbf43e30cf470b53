# Gantry. `make run` serves on embedded SQLite; `make test` runs every test
# (on PostgreSQL too when GANTRY_TEST_POSTGRES_URL is set).
GO ?= go
export CGO_ENABLED ?= 1

.PHONY: run build test test-short generate migrations check-generated bench vet fmt

run: build
	./bin/gantry serve

build:
	$(GO) build -o bin/gantry .

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 40m ./...

generate:
	$(GO) generate .

# Writes a new migration for both dialects when the Ent schema changed.
# Needs a scratch PostgreSQL database: GANTRY_DEV_POSTGRES_URL.
migrations:
	$(GO) run ./migrations/migrategen -dialect sqlite -name $(or $(NAME),changes)
	$(GO) run ./migrations/migrategen -dialect postgres -dev "$(GANTRY_DEV_POSTGRES_URL)" -name $(or $(NAME),changes)

# Regenerates and fails when the committed generated code differs.
check-generated: generate
	git diff --exit-code -- ent graph

# Prints the dispatcher's figures on SQLite and on PostgreSQL (started here).
bench:
	GANTRY_TEST_POSTGRES_URL="$${GANTRY_TEST_POSTGRES_URL:-$$(bash scripts/postgres.sh)}" $(GO) run ./bench

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
