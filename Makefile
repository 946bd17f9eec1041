.PHONY: build test lint index bench release

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
