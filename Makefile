.PHONY: build test lint index bench bench-check release

build:
	go build -o bin/casebook ./cmd/casebook

# test installs and starts what the tests need, then runs go test ./...
test:
	scripts/test

lint:
	go run ./cmd/casebook lint
	go run ./cmd/casebook index --check

index:
	go run ./cmd/casebook index

bench:
	go test -run '^$$' -bench . -benchmem ./...

# release cross-compiles static binaries (linux/amd64, linux/arm64,
# darwin/arm64) into dist/ with archives, CycloneDX SBOMs and SHA256SUMS.
# VERSION defaults to git describe.
release:
	go run scripts/release.go $(if $(VERSION),-version $(VERSION))

# bench-check fails when diagnose's CPU cost, as a ratio to loading the same
# snapshot measured side by side, grows more than 30% over the baseline.
bench-check:
	CASEBOOK_BENCH_CHECK=1 go test ./internal/benchdata -run '^TestDiagnoseCostRatio$$' -count=1 -v
