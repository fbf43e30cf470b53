package main

// Run from the module root: `make generate` (or `go generate .`).
//go:generate go run -mod=mod ./ent/entc.go
//go:generate go tool gqlgen generate
