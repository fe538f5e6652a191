package pipeline

import (
	"strings"
	"unicode"
)

// splitter cuts streamed text into speakable sentences: a sentence ends at
// . ! ? or ; followed by a space, once it is long enough to be worth a
// synthesis of its own; a run-on sentence is cut at a comma after
// maxRunOn characters.
type splitter struct {
	buf strings.Builder
}

const (
	minSentence = 8
	maxRunOn    = 160
)

// add appends text and returns the sentences it completes.
func (s *splitter) add(text string) []string {
	s.buf.WriteString(text)
	var out []string
	for {
		t := s.buf.String()
		cut := -1
		for i, r := range t {
			if i+1 >= len(t) {
				break
			}
			next := rune(t[i+1])
			if strings.ContainsRune(".!?;", r) && unicode.IsSpace(next) && len(strings.TrimSpace(t[:i+1])) >= minSentence {
				cut = i + 1
				break
			}
			if r == ',' && unicode.IsSpace(next) && i >= maxRunOn {
				cut = i + 1
				break
			}
		}
		if cut < 0 {
			return out
		}
		if sent := strings.TrimSpace(t[:cut]); sent != "" {
			out = append(out, sent)
		}
		rest := t[cut:]
		s.buf.Reset()
		s.buf.WriteString(rest)
	}
}

// flush returns what is left.
func (s *splitter) flush() string {
	t := strings.TrimSpace(s.buf.String())
	s.buf.Reset()
	return t
}
