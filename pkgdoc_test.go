package vox

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docProblems walks the Go packages under root and reports each one that
// does not have exactly one package doc comment in its non-test files, or
// whose doc does not start "Package NAME" ("Command DIR" for a main package).
func docProblems(root string) ([]string, int, error) {
	type pkg struct {
		name  string
		files []string          // files with a package doc
		docs  map[string]string // file → doc
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		p := pkgs[dir]
		if p == nil {
			p = &pkg{name: f.Name.Name, docs: map[string]string{}}
			pkgs[dir] = p
		}
		if f.Doc != nil {
			p.files = append(p.files, filepath.Base(path))
			p.docs[filepath.Base(path)] = f.Doc.Text()
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	var problems []string
	for dir, p := range pkgs {
		switch len(p.files) {
		case 0:
			problems = append(problems, fmt.Sprintf("%s: package %s has no package doc (add a doc.go)", dir, p.name))
			continue
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("%s: package %s has %d package docs (%s); keep one",
				dir, p.name, len(p.files), strings.Join(p.files, ", ")))
			continue
		}
		want := "Package " + p.name
		if p.name == "main" {
			want = "Command " + filepath.Base(dir)
		}
		if doc := p.docs[p.files[0]]; !regexp.MustCompile(`^` + regexp.QuoteMeta(want) + `\b`).MatchString(doc) {
			problems = append(problems, fmt.Sprintf("%s/%s: package doc should start %q: %.40q", dir, p.files[0], want, doc))
		}
	}
	slices.Sort(problems)
	return problems, len(pkgs), nil
}

// TestPackageDocs: one package doc per package of this repository.
func TestPackageDocs(t *testing.T) {
	problems, n, err := docProblems(".")
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("found only %d packages; is the test run from the repository root?", n)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestPackageDocsFindsProblems runs the check on a tree with a package
// without a doc, one with two, and one whose doc names another package.
func TestPackageDocsFindsProblems(t *testing.T) {
	dir := t.TempDir()
	for path, src := range map[string]string{
		"a/a.go":           "package a\n",
		"b/doc.go":         "// Package b is b.\npackage b\n",
		"b/b.go":           "// Package b again.\npackage b\n",
		"c/doc.go":         "// Package cee is misnamed.\npackage c\n",
		"cmd/tool/main.go": "// Command tool does things.\npackage main\n",
		"d/doc.go":         "// Package d is fine.\npackage d\n",
		"d/d_test.go":      "// Package d has a test doc that does not count.\npackage d\n",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, path), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	problems, _, err := docProblems(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a: package a has no package doc", "b: package b has 2 package docs", `c/doc.go: package doc should start "Package c"`}
	if len(problems) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d", strings.Join(problems, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d = %q, want %q…", i, problems[i], w)
		}
	}
}
