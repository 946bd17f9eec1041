.PHONY: build test lint index bench

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
