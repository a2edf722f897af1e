package studio_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/studio"
)

// corpusReplies reads studio/testdata/replies.tsv: every reply, in file
// order, with "<empty>" read as silence.
func corpusReplies(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/replies.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if header {
			header = false
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 2 {
			t.Fatalf("bad line %q", line)
		}
		r := cols[1]
		if r == "<empty>" {
			r = ""
		}
		out = append(out, r)
	}
	return out
}

// TestDifferentialBuiltins runs every built-in flow through both runtimes
// (compareRuntimes) for as many patients as the corpus has replies,
// patient i answering the corpus from reply i on, every 7th reply (so
// each question gets every reply of the corpus, more than 50 of each kind:
// valid, variants, punctuation, emoji, other languages, empty, opt-outs,
// HELP and START): the responses CSVs, outcomes and the messages each
// phone received must be the same.
func TestDifferentialBuiltins(t *testing.T) {
	t.Parallel()
	studio.SkipRace(t)
	replies := corpusReplies(t)
	if len(replies) < 50 {
		t.Fatalf("%d replies in the corpus, want at least 50", len(replies))
	}
	for _, name := range flows.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			flow, err := flows.Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			// Every reply of the corpus first; a quarter of them with
			// -short or the race detector (see FullScale).
			n := len(replies)
			if !studio.FullScale() {
				n /= 4
			}
			scripts := make([][]string, n)
			for i := range scripts {
				for j := range 8 {
					scripts[i] = append(scripts[i], replies[(i*len(replies)/n+j*7)%len(replies)])
				}
			}
			_, _, _ = compareRuntimes(t, flow, scripts, n)
		})
	}
}
