// Package vox is the root of the Vox platform's module. It holds no code of
// its own, only tests of the repository as a whole: one package doc per
// package (pkgdoc_test.go) and the import boundaries that
// scripts/check-imports.sh enforces (checkimports_test.go).
//
// vox must not be imported.
package vox
