package twiliosms_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// codeBlocks returns the blocks of README.md fenced as lang, each as its
// lines with indentation and blank lines dropped.
func codeBlocks(t *testing.T, path, lang string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]string
	var cur []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && line == "```"+lang:
			in, cur = true, nil
		case in && strings.HasPrefix(line, "```"):
			in = false
			blocks = append(blocks, cur)
		case in:
			if l := strings.TrimSpace(line); l != "" {
				cur = append(cur, l)
			}
		}
	}
	return blocks
}

var marker = regexp.MustCompile(`^// README: (\w+) (begin|end)$`)

// markedRegions returns the lines of file between "// README: NAME begin"
// and "// README: NAME end", trimmed as codeBlocks trims them.
func markedRegions(t *testing.T, file string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string][]string{}
	open := ""
	for _, line := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(line)
		if m := marker.FindStringSubmatch(l); m != nil {
			if m[2] == "begin" {
				open = m[1]
				regions[open] = []string{}
			} else {
				open = ""
			}
			continue
		}
		if open != "" && l != "" {
			regions[open] = append(regions[open], l)
		}
	}
	return regions
}

// TestReadmeGoBlocks checks that every Go block of README.md is, word for
// word, a marked region of example_embed_test.go, whose Example_embedding
// compiles and runs it against the fake Twilio. So the README's code
// compiles as written and does what it says.
func TestReadmeGoBlocks(t *testing.T) {
	blocks := codeBlocks(t, "../../README.md", "go")
	if len(blocks) == 0 {
		t.Fatal("README.md has no Go block: the parser is broken")
	}
	regions := markedRegions(t, "example_embed_test.go")
	if len(regions) == 0 {
		t.Fatal("example_embed_test.go has no README region")
	}
	for i, b := range blocks {
		found := false
		for _, r := range regions {
			if slices.Equal(b, r) {
				found = true
			}
		}
		if !found {
			t.Errorf("README.md's Go block %d (%q...) is not a README region of example_embed_test.go: copy the region into README.md as it is", i+1, b[0])
		}
	}
}
