package pocketsphinx

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"unicode"
)

// baseCorpus is what any caller may say besides the script's own words:
// greetings, yes and no, numbers, days and the like. It keeps the script's
// language model from forcing every answer onto a script phrase.
var baseCorpus = []string{
	"yes", "no", "yes please", "no thank you", "no thanks", "thank you", "okay", "sure", "right",
	"hello", "hi", "goodbye", "bye", "good morning", "good afternoon",
	"i don't know", "i am not sure", "can you repeat that", "sorry what did you say", "what",
	"i would like to", "i want to", "can i", "could you", "please", "maybe", "that is right", "that is wrong",
	"my name is", "i am", "it is", "speak to a person", "talk to someone",
	"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "zero",
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
	"today", "tomorrow", "morning", "afternoon", "evening", "next week",
}

// names are common English first names and surnames, so that "my name is
// …" has somewhere to go.
var names = strings.Fields(`james john robert michael william david richard joseph thomas charles
	christopher daniel matthew anthony mark paul steven andrew peter george
	mary patricia jennifer linda elizabeth barbara susan jessica sarah karen
	lisa nancy betty margaret sandra ashley emily donna michelle carol amanda
	anna emma olivia sophia maria laura alice helen kate jane
	smith johnson williams brown jones miller davis wilson anderson taylor
	thomas moore jackson martin lee thompson white harris clark lewis
	robinson walker young allen king wright scott green baker adams`)

// nameSentences are "my name is …" for each name.
func nameSentences() []string {
	var out []string
	for _, n := range names {
		out = append(out, "my name is "+n)
	}
	return out
}

// words splits text into lower-case words of letters, digits and
// apostrophes.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

// loadDict reads a CMU dictionary: word → its pronunciation lines
// ("word phones", "word(2) phones").
func loadDict(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dictionary: %w", err)
	}
	defer f.Close()
	dict := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		w, _, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(w, '('); i > 0 {
			w = w[:i]
		}
		dict[w] = append(dict[w], line)
	}
	return dict, sc.Err()
}

// buildLM writes an ARPA bigram model (absolute discounting with backoff)
// of the sentences and a dictionary of their words. Words the dictionary
// does not know are left out of both.
func buildLM(sentences []string, dict map[string][]string, lmPath, dictPath string) (int, error) {
	uni := map[string]float64{}
	bi := map[[2]string]float64{}
	for _, s := range sentences {
		ws := []string{"<s>"}
		for _, w := range words(s) {
			if _, ok := dict[w]; ok {
				ws = append(ws, w)
			}
		}
		if len(ws) == 1 {
			continue
		}
		ws = append(ws, "</s>")
		for i, w := range ws {
			uni[w]++
			if i > 0 {
				bi[[2]string{ws[i-1], w}]++
			}
		}
	}
	if len(uni) <= 2 {
		return 0, fmt.Errorf("no known words in %d sentences", len(sentences))
	}
	const discount = 0.5
	var total float64
	for _, c := range uni {
		total += c
	}
	follow := map[string]float64{}   // count of bigrams starting with w
	distinct := map[string]float64{} // distinct successors of w
	for k, c := range bi {
		follow[k[0]] += c
		distinct[k[0]]++
	}
	uniKeys := make([]string, 0, len(uni))
	for w := range uni {
		uniKeys = append(uniKeys, w)
	}
	sort.Strings(uniKeys)
	biKeys := make([][2]string, 0, len(bi))
	for k := range bi {
		biKeys = append(biKeys, k)
	}
	sort.Slice(biKeys, func(i, j int) bool {
		if biKeys[i][0] != biKeys[j][0] {
			return biKeys[i][0] < biKeys[j][0]
		}
		return biKeys[i][1] < biKeys[j][1]
	})

	var b strings.Builder
	fmt.Fprintf(&b, "\\data\\\nngram 1=%d\nngram 2=%d\n\n\\1-grams:\n", len(uni), len(bi))
	for _, w := range uniKeys {
		p := uni[w] / total
		bo := 1.0
		if follow[w] > 0 {
			bo = discount * distinct[w] / follow[w]
		}
		fmt.Fprintf(&b, "%.4f %s %.4f\n", math.Log10(p), w, math.Log10(bo))
	}
	b.WriteString("\n\\2-grams:\n")
	for _, k := range biKeys {
		fmt.Fprintf(&b, "%.4f %s %s\n", math.Log10((bi[k]-discount)/follow[k[0]]), k[0], k[1])
	}
	b.WriteString("\n\\end\\\n")
	if err := os.WriteFile(lmPath, []byte(b.String()), 0o600); err != nil {
		return 0, fmt.Errorf("write language model: %w", err)
	}
	var d strings.Builder
	for _, w := range uniKeys {
		for _, line := range dict[w] {
			d.WriteString(line)
			d.WriteByte('\n')
		}
	}
	if err := os.WriteFile(dictPath, []byte(d.String()), 0o600); err != nil {
		return 0, fmt.Errorf("write dictionary: %w", err)
	}
	return len(uni) - 2, nil
}
