package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// No tool that parses declarative pipelines installs here (Jenkins and its
// pipeline-model-definition plugin are not packaged for Debian or npm), so
// the Jenkinsfile's structure is checked here: balanced blocks outside
// strings and comments, the declarative sections, the stages, and that
// every script, make target and deploy.sh command it calls exists.

// jenkinsBlock is a `name { … }` block of the pipeline.
type jenkinsBlock struct {
	name     string
	body     string // text between the braces
	children []*jenkinsBlock
}

// parseJenkinsfile returns the top-level blocks, or an error message for
// unbalanced braces, parentheses or strings.
func parseJenkinsfile(src string) ([]*jenkinsBlock, string) {
	// Blank out comments and string contents, keeping offsets.
	clean := []byte(src)
	for i := 0; i < len(clean); {
		switch {
		case strings.HasPrefix(src[i:], "//"):
			for i < len(clean) && clean[i] != '\n' {
				clean[i] = ' '
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, "unterminated /* comment"
			}
			for j := i; j < i+end+4; j++ {
				clean[j] = ' '
			}
			i += end + 4
		case strings.HasPrefix(src[i:], "'''"), strings.HasPrefix(src[i:], `"""`):
			q := src[i : i+3]
			end := strings.Index(src[i+3:], q)
			if end < 0 {
				return nil, "unterminated " + q + " string"
			}
			for j := i + 3; j < i+3+end; j++ {
				clean[j] = ' '
			}
			i += end + 6
		case src[i] == '\'' || src[i] == '"':
			q := src[i]
			j := i + 1
			for ; j < len(src) && src[j] != q; j++ {
				if src[j] == '\\' {
					j++
				}
				if j < len(src) && src[j] == '\n' {
					return nil, "string broken across lines"
				}
			}
			if j >= len(src) {
				return nil, "unterminated string"
			}
			for k := i + 1; k < j; k++ {
				clean[k] = ' '
			}
			i = j + 1
		default:
			i++
		}
	}
	text := string(clean)
	if strings.Count(text, "(") != strings.Count(text, ")") {
		return nil, "unbalanced parentheses"
	}
	var parse func(from, to int) ([]*jenkinsBlock, string)
	word := regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(\([^{}]*\))?\s*$`)
	parse = func(from, to int) ([]*jenkinsBlock, string) {
		var out []*jenkinsBlock
		for i := from; i < to; i++ {
			switch text[i] {
			case '}':
				return nil, "unbalanced }"
			case '{':
				depth, j := 1, i+1
				for ; j < to && depth > 0; j++ {
					switch text[j] {
					case '{':
						depth++
					case '}':
						depth--
					}
				}
				if depth != 0 {
					return nil, "unbalanced {"
				}
				head := text[from:i]
				if k := strings.LastIndexAny(head, "\n;{}"); k >= 0 {
					head = head[k+1:]
				}
				name := ""
				if m := word.FindStringSubmatch(head); m != nil {
					name = m[1]
					if m[2] != "" {
						// stage('Name'): the name from the source.
						name += src[from+strings.LastIndex(text[from:i], m[2]) : from+strings.LastIndex(text[from:i], m[2])+len(m[2])]
					}
				}
				kids, bad := parse(i+1, j-1)
				if bad != "" {
					return nil, bad
				}
				out = append(out, &jenkinsBlock{name: name, body: src[i+1 : j-1], children: kids})
				i = j - 1
				from = j
			}
		}
		return out, ""
	}
	return parse(0, len(text))
}

func (b *jenkinsBlock) child(name string) *jenkinsBlock {
	for _, c := range b.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func TestJenkinsfile(t *testing.T) {
	src := readFile(t, "../Jenkinsfile")
	top, bad := parseJenkinsfile(src)
	if bad != "" {
		t.Fatalf("Jenkinsfile: %s", bad)
	}
	if len(top) != 1 || top[0].name != "pipeline" {
		t.Fatalf("Jenkinsfile: want one top-level pipeline { } block (declarative), got %d blocks", len(top))
	}
	p := top[0]
	for _, s := range []string{"agent", "options", "parameters", "environment", "stages", "post"} {
		if p.child(s) == nil {
			t.Errorf("pipeline has no %s section", s)
		}
	}
	var stages []string
	for _, s := range p.child("stages").children {
		if !strings.HasPrefix(s.name, "stage(") {
			t.Errorf("stages holds %q, want only stage('…') blocks", s.name)
			continue
		}
		if s.child("steps") == nil {
			t.Errorf("%s has no steps", s.name)
		}
		stages = append(stages, strings.Trim(strings.TrimPrefix(s.name, "stage("), "')"))
	}
	want := []string{"Checkout last-known-good", "Install and test", "Build", "Deploy API", "Deploy fleet",
		"Deploy SIP host", "Deploy ingress", "Health", "Mark last-known-good"}
	if !slices.Equal(stages, want) {
		t.Errorf("stages %q, want %q", stages, want)
	}
	if f := p.child("post"); f == nil || f.child("failure") == nil || !strings.Contains(f.child("failure").body, "deploy.sh rollback-touched") {
		t.Error("post { failure { … } } does not roll back the hosts it touched")
	}

	// What the stages run exists.
	for _, m := range regexp.MustCompile(`scripts/([a-z-]+\.sh)`).FindAllStringSubmatch(src, -1) {
		fi, err := os.Stat("../scripts/" + m[1])
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("Jenkinsfile runs scripts/%s, which is missing or not executable", m[1])
		}
	}
	makefile := readFile(t, "../Makefile")
	for _, m := range regexp.MustCompile(`\bmake ([a-z-]+)`).FindAllStringSubmatch(src, -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `:`).MatchString(makefile) {
			t.Errorf("Jenkinsfile runs make %s, which the Makefile lacks", m[1])
		}
	}
	deploySh := readFile(t, "../scripts/deploy.sh")
	calls := regexp.MustCompile(`deploy\.sh ([a-z-]+)(?: ([a-z]+))?`).FindAllStringSubmatch(src, -1)
	roles := map[string]bool{}
	for _, m := range calls {
		if !strings.Contains(deploySh, "\n"+m[1]+")") {
			t.Errorf("Jenkinsfile runs deploy.sh %s, which deploy.sh does not know", m[1])
		}
		if m[1] == "health" {
			roles[m[2]] = true
		}
	}
	for _, r := range []string{"api", "fleet", "dialler"} {
		if !roles[r] {
			t.Errorf("no health check of the %s role", r)
		}
	}
	// The health checks are the seed's: /health, /health/fleet, :8090/health.
	host := readFile(t, "../scripts/host-install.sh")
	for _, u := range []string{"127.0.0.1:8080/health", "/health/fleet", "127.0.0.1:8090/health"} {
		if !strings.Contains(host, u) {
			t.Errorf("scripts/host-install.sh does not check %s", u)
		}
	}
	// Fleet hosts are upgraded in place, never restarted.
	if !strings.Contains(host, `"$BIN/voxfleet" upgrade`) || strings.Contains(host, "restart voxfleet") {
		t.Error("the fleet role must use voxfleet upgrade, not a restart")
	}
}

func TestJenkinsfileParserCatchesMistakes(t *testing.T) {
	for name, src := range map[string]string{
		"missing brace":  "pipeline {\n stages {\n stage('a') { steps { sh 'x' } }\n}\n",
		"extra brace":    "pipeline { } }\n",
		"open string":    "pipeline { stages { stage('a) { } } }\n",
		"open paren":     "pipeline { options { timeout(time: 1 } }\n",
		"open multiline": "pipeline { steps { sh '''\n x\n } }\n",
	} {
		if _, bad := parseJenkinsfile(src); bad == "" {
			t.Errorf("%s: parsed without complaint", name)
		}
	}
	top, bad := parseJenkinsfile("pipeline {\n  stages {\n    stage('A b') { steps { sh \"echo '}'\" } }\n  }\n}\n")
	if bad != "" || top[0].child("stages").children[0].name != "stage('A b')" {
		t.Fatalf("parse of a good pipeline: %q %+v", bad, top)
	}
}
