package importer

import (
	"strings"

	"github.com/voxplatform/vox/phone"
)

// formulaStarts are the first characters with which a spreadsheet reads a
// cell as a formula (or, for tab and carriage return, hides one).
const formulaStarts = "=+-@\t\r"

// FormulaLike reports whether a spreadsheet would read v as a formula: it
// starts with one of = + - @ (or a tab or carriage return) and is not a
// phone number ("+44 20 7946 0958" is data, "=HYPERLINK(…)" and "-2+3" are
// not).
func FormulaLike(v string) bool {
	if v == "" || !strings.ContainsRune(formulaStarts, rune(v[0])) {
		return false
	}
	_, err := phone.Normalize(v, "")
	return err != nil
}

// Neutralize returns v with a leading apostrophe when it is FormulaLike, so
// that a spreadsheet shows it as text instead of running it.
func Neutralize(v string) string {
	if FormulaLike(v) {
		return "'" + v
	}
	return v
}
