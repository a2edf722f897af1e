package studio

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// optOutSamples returns replies to try the opt-out patterns on: the
// labelled opt-out corpus and the differential corpus (the first
// corpora), then combinations of the patterns' own words.
func optOutSamples(t *testing.T) (samples []string, corpora int) {
	t.Helper()
	var out []string
	for _, f := range []struct {
		path string
		col  int
	}{{"../outreach/testdata/optout_replies.tsv", 0}, {"testdata/replies.tsv", 1}} {
		fh, err := os.Open(f.path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
				if cols := strings.Split(l, "\t"); len(cols) > f.col {
					out = append(out, cols[f.col])
				}
			}
		}
		fh.Close()
	}
	corpora = len(out)
	words := []string{"please", "pls", "now", "it", "thanks", "thank you", "ok", "yes", "no", "stop", "stopall",
		"unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out", "alto", "parar", "baja", "cancelar"}
	seps := []string{" ", ", ", ". ", "! ", "; "}
	for _, a := range words {
		out = append(out, a, strings.ToUpper(a)+"!")
		for _, b := range words {
			for _, s := range seps {
				out = append(out, a+s+b)
				for _, c := range words[9:] {
					out = append(out, a+s+b+" "+c, c+s+a+" "+b)
				}
			}
		}
	}
	for _, p := range []string{"stop texting me", "please stop texting me", "stop messaging us now", "quit sending me texts anymore",
		"remove me", "remove me from your list", "please unsubscribe me", "take me off the list", "opt me out please",
		"no more messages", "wrong number", "don't text me anymore", "dont message me", "please don't text me please",
		"don't stop my reminders", "please don't stop texting me", "stop it, wrong number", "i quit", "end it",
		"cancel everything", "no more", "not interested", "can you stop?", "✋", "⛔", "🚫"} {
		out = append(out, p, strings.ToUpper(p), p+".", " "+p+"!")
	}
	for _, p := range optOutPhrases {
		w := strings.Fields(p)
		out = append(out, strings.Join(w, "  "), strings.ToUpper(p)+"!", p+" please", "please "+p, "yes "+p, p+" now", p+".")
	}
	for _, p := range maybeOptOutPhrases {
		out = append(out, strings.ToUpper(p), p+".", " "+p+" ")
	}
	return out, corpora
}

// TestOptOutPatterns checks that the opt-out transitions of every reply
// split never take a message that outreach.ClassifyOptOut does not read
// as they say, and counts the opt-outs of the corpora they miss. With
// -short and under the race detector (17 s of regular expressions, no
// concurrency) it tries the corpora and every 13th combination; CI tries
// them all without the race detector (see fullScale).
func TestOptOutPatterns(t *testing.T) {
	t.Parallel()
	stop := Condition{Type: CondRegex, Value: OptOutPattern}
	maybe := Condition{Type: CondRegex, Value: MaybeOptOutPattern}
	missed := map[outreach.OptOutClass][]string{}
	samples, corpora := optOutSamples(t)
	for i, s := range samples {
		if i >= corpora && i%13 != 0 && !fullScale() {
			continue
		}
		c := outreach.ClassifyOptOut(s)
		isStop, err := stop.Holds(s)
		if err != nil {
			t.Fatal(err)
		}
		isMaybe, _ := maybe.Holds(s)
		if isStop && c != outreach.OptOut {
			t.Errorf("OptOutPattern holds for %q, which ClassifyOptOut reads as %v", s, c)
		}
		if isMaybe && c != outreach.OptOutAmbiguous {
			t.Errorf("MaybeOptOutPattern holds for %q, which ClassifyOptOut reads as %v", s, c)
		}
		if i < corpora && c != outreach.NotOptOut && !isStop && !isMaybe {
			missed[c] = append(missed[c], s)
		}
	}
	for c, ms := range missed {
		t.Logf("%d replies of the corpora that ClassifyOptOut reads as %v are missed, as replies: %q", len(ms), c, ms)
	}
}
