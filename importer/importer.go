package importer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/voxplatform/vox/phone"
)

// Limits on one contact.
const (
	MaxNameLen      = 200
	MaxMetadataKeys = 20
	MaxMetaKeyLen   = 64
	MaxMetaValueLen = 500
	// MaxErrors caps the per-row errors reported for one upload.
	MaxErrors = 1000
)

// Row is one valid contact.
type Row struct {
	Row      int               // 1-based data row (CSV: not counting the header)
	Phone    string            // E.164
	Name     string            //
	Metadata map[string]string // other CSV columns, or JSON "metadata"
}

// RowError says why one row was refused.
type RowError struct {
	Row   int    `json:"row"`
	Error string `json:"error"`
}

// Result is a parsed upload.
type Result struct {
	Rows   []Row
	Errors []RowError
	// Flagged are accepted rows with a cell a spreadsheet would run as a
	// formula (see FormulaLike); exports neutralise such cells.
	Flagged    []RowError
	Duplicates int // rows whose number appeared earlier in the same file
	Total      int // data rows read
}

// ErrFormat is wrapped when the upload as a whole cannot be read (no header,
// no phone column, not a JSON array, too many rows).
var ErrFormat = errors.New("bad upload")

// Options controls parsing.
type Options struct {
	CountryCode string // for numbers without an international prefix
	MaxRows     int    // 0: unlimited
}

type builder struct {
	opt  Options
	res  Result
	seen map[string]int
}

func (b *builder) fail(row int, format string, a ...any) {
	if len(b.res.Errors) < MaxErrors {
		b.res.Errors = append(b.res.Errors, RowError{Row: row, Error: fmt.Sprintf(format, a...)})
	}
}

func (b *builder) flag(row int, field string) {
	if len(b.res.Flagged) < MaxErrors {
		b.res.Flagged = append(b.res.Flagged, RowError{Row: row,
			Error: field + " starts like a spreadsheet formula (=, +, -, @) and is not a phone number; exports show it as text"})
	}
}

func (b *builder) add(row int, rawPhone, name string, meta map[string]string) {
	n, err := phone.Normalize(rawPhone, b.opt.CountryCode)
	if err != nil {
		b.fail(row, "%v", err)
		return
	}
	name = strings.TrimSpace(name)
	if len(name) > MaxNameLen || !utf8.ValidString(name) {
		b.fail(row, "name must be valid UTF-8 of at most %d bytes", MaxNameLen)
		return
	}
	if len(meta) > MaxMetadataKeys {
		b.fail(row, "at most %d metadata fields", MaxMetadataKeys)
		return
	}
	for k, v := range meta {
		if err := CheckMetaKey(k); err != nil {
			b.fail(row, "%v", err)
			return
		}
		if len(v) > MaxMetaValueLen || !utf8.ValidString(v) {
			b.fail(row, "metadata %q must be valid UTF-8 of at most %d bytes", k, MaxMetaValueLen)
			return
		}
	}
	if first, dup := b.seen[n]; dup {
		_ = first
		b.res.Duplicates++
		return
	}
	b.seen[n] = row
	if FormulaLike(name) {
		b.flag(row, "name")
	}
	for _, k := range sortedKeys(meta) {
		if FormulaLike(meta[k]) {
			b.flag(row, "metadata "+strconv.Quote(k))
		}
	}
	b.res.Rows = append(b.res.Rows, Row{Row: row, Phone: n, Name: name, Metadata: meta})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CheckMetaKey refuses metadata keys that MongoDB would read as operators or
// paths, and empty or overlong ones.
func CheckMetaKey(k string) error {
	if k == "" || len(k) > MaxMetaKeyLen || strings.ContainsAny(k, "$.\x00") || !utf8.ValidString(k) {
		return fmt.Errorf("metadata key %q: 1 to %d characters, no '$', '.' or NUL", k, MaxMetaKeyLen)
	}
	return nil
}

func (b *builder) tooMany() bool {
	return b.opt.MaxRows > 0 && b.res.Total > b.opt.MaxRows
}

// CSV parses a CSV upload with a header row. The phone column is named
// phone, phone_number or number (any case); a name column is optional; every
// other column becomes metadata.
func CSV(r io.Reader, opt Options) (*Result, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: read CSV header: %v", ErrFormat, err)
	}
	phoneCol, nameCol := -1, -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		header[i] = h
		switch h {
		case "phone", "phone_number", "number":
			if phoneCol >= 0 {
				return nil, fmt.Errorf("%w: more than one phone column", ErrFormat)
			}
			phoneCol = i
		case "name":
			nameCol = i
		default:
			if err := CheckMetaKey(h); err != nil {
				return nil, fmt.Errorf("%w: column %d: %v", ErrFormat, i+1, err)
			}
		}
	}
	if phoneCol < 0 {
		return nil, fmt.Errorf("%w: no phone column in header %q", ErrFormat, header)
	}
	b := &builder{opt: opt, seen: map[string]int{}}
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		b.res.Total++
		if b.tooMany() {
			return nil, fmt.Errorf("%w: more than %d rows", ErrFormat, opt.MaxRows)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && !errors.Is(err, csv.ErrFieldCount) {
			b.fail(row, "malformed CSV on line %d: %v", pe.Line, pe.Err)
			continue
		} else if err != nil && !errors.Is(err, csv.ErrFieldCount) {
			return nil, fmt.Errorf("read CSV: %w", err)
		}
		if len(rec) != len(header) {
			b.fail(row, "has %d fields, the header has %d", len(rec), len(header))
			continue
		}
		var name string
		meta := map[string]string{}
		for i, v := range rec {
			switch i {
			case phoneCol:
			case nameCol:
				name = v
			default:
				if v != "" {
					meta[header[i]] = v
				}
			}
		}
		if len(meta) == 0 {
			meta = nil
		}
		b.add(row, rec[phoneCol], name, meta)
	}
	return &b.res, nil
}

// jsonContact is one element of a JSON upload.
type jsonContact struct {
	Phone    string            `json:"phone"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// JSON parses a JSON array of {"phone", "name", "metadata"} objects. An
// element with unknown fields or wrong types is a row error.
func JSON(data []byte, opt Options) (*Result, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: body must be a JSON array of contacts: %v", ErrFormat, err)
	}
	b := &builder{opt: opt, seen: map[string]int{}}
	for i, m := range raw {
		row := i + 1
		b.res.Total++
		if b.tooMany() {
			return nil, fmt.Errorf("%w: more than %d rows", ErrFormat, opt.MaxRows)
		}
		if !utf8.Valid(m) {
			// encoding/json would replace the bad bytes with U+FFFD and
			// store a name nobody wrote.
			b.fail(row, "not valid UTF-8")
			continue
		}
		var c jsonContact
		d := json.NewDecoder(bytes.NewReader(m))
		d.DisallowUnknownFields()
		if err := d.Decode(&c); err != nil {
			b.fail(row, "bad contact: %v", err)
			continue
		}
		b.add(row, c.Phone, c.Name, c.Metadata)
	}
	return &b.res, nil
}
