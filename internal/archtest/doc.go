// Package archtest holds the architecture test: the import rules of
// docs/architecture.md, checked on the module's packages as `go list`
// builds them (test files excluded). It has no code of its own.
package archtest
