package outreach_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// readTSV reads a labelled corpus in testdata: comment lines start with
// "#", the first other line is the header, every row has its columns.
func readTSV(t testing.TB, name string, header ...string) (rows [][]string, lines []int) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	seenHeader := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if !seenHeader {
			if strings.Join(cols, ",") != strings.Join(header, ",") {
				t.Fatalf("%s:%d: header %q, want %q", name, n, cols, header)
			}
			seenHeader = true
			continue
		}
		if len(cols) != len(header) {
			t.Fatalf("%s:%d: %d columns, want %d (%s)", name, n, len(cols), len(header), strings.Join(header, ", "))
		}
		rows, lines = append(rows, cols), append(lines, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, lines
}

// corpusSpecs are the answer specs the labelled replies were written for.
var corpusSpecs = map[string]*outreach.AnswerSpec{
	"yesno": {Kind: outreach.AnswerChoice, Choices: []outreach.Choice{
		{Value: "YES", Synonyms: []string{"y", "yeah", "yep", "yup", "sure", "ok", "okay", "si", "sí"}},
		{Value: "NO", Synonyms: []string{"n", "nope", "nah", "no thanks"}},
	}},
	"pain":   {Kind: outreach.AnswerInteger, Min: ptr(0.0), Max: ptr(10.0)},
	"age":    {Kind: outreach.AnswerInteger, Min: ptr(18.0), Max: ptr(120.0)},
	"weight": {Kind: outreach.AnswerNumber, Min: ptr(50.0), Max: ptr(700.0)},
	"temp":   {Kind: outreach.AnswerNumber, Min: ptr(90.0), Max: ptr(110.0)},
	"text":   nil,
}

// TestReadAnswerCorpus reads every labelled reply of
// testdata/answer_replies.tsv and reports, per spec, how many were read
// as labelled; a reply read as a value where the label says REVIEW (a
// guess) or a different value fails the test, and so does a REVIEW where
// the label has a value.
func TestReadAnswerCorpus(t *testing.T) {
	rows, lines := readTSV(t, "answer_replies.tsv", "spec", "reply", "want", "note")
	type count struct{ rows, read, review, guessed, missed int }
	counts := map[string]*count{}
	for i, r := range rows {
		spec, reply, want := r[0], r[1], r[2]
		s, ok := corpusSpecs[spec]
		if !ok {
			t.Fatalf("line %d: unknown spec %q", lines[i], spec)
		}
		c := counts[spec]
		if c == nil {
			c = &count{}
			counts[spec] = c
		}
		c.rows++
		rd := outreach.ReadAnswer(s, reply)
		switch {
		case want == "REVIEW" && !rd.OK:
			c.review++
		case want == "REVIEW":
			c.guessed++
			t.Errorf("line %d: %s %q read as %q; want needs review (%s)", lines[i], spec, reply, rd.Value, r[3])
		case !rd.OK:
			c.missed++
			t.Errorf("line %d: %s %q in doubt (%s); want %q (%s)", lines[i], spec, reply, rd.Doubt, want, r[3])
		case rd.Value != want:
			c.guessed++
			t.Errorf("line %d: %s %q read as %q; want %q (%s)", lines[i], spec, reply, rd.Value, want, r[3])
		default:
			c.read++
		}
	}
	for _, spec := range []string{"yesno", "pain", "age", "weight", "temp", "text"} {
		c := counts[spec]
		if c == nil {
			t.Errorf("no rows for %s", spec)
			continue
		}
		t.Logf("%-6s %3d replies: %3d read, %3d to review as labelled; %d misread, %d needlessly to review", spec, c.rows, c.read, c.review, c.guessed, c.missed)
	}
}

// FuzzReadAnswer checks that no reply makes ReadAnswer panic, that a
// reading is either a value or a doubt, and that a value read is stable:
// reading it again gives itself.
func FuzzReadAnswer(f *testing.F) {
	rows, _ := readTSV(f, "answer_replies.tsv", "spec", "reply", "want", "note")
	for _, r := range rows {
		f.Add(r[0], r[1])
	}
	f.Fuzz(func(t *testing.T, spec, reply string) {
		s, ok := corpusSpecs[spec]
		if !ok {
			return
		}
		rd := outreach.ReadAnswer(s, reply)
		if rd.OK != (rd.Doubt == "") || rd.OK != (rd.Value != "") {
			t.Fatalf("ReadAnswer(%s, %q) = %+v: a reading is a value or a doubt", spec, reply, rd)
		}
		if rd.OK {
			if again := outreach.ReadAnswer(s, rd.Value); !again.OK || again.Value != rd.Value {
				t.Fatalf("ReadAnswer(%s, %q) = %q, but reading %q gives %+v", spec, reply, rd.Value, rd.Value, again)
			}
		}
	})
}

// BenchmarkReadAnswer measures the reader on typical replies: it runs on
// every reply to a question.
func BenchmarkReadAnswer(b *testing.B) {
	for _, tc := range []struct{ spec, reply string }{
		{"pain", "7"}, {"pain", "it's a 7 today"}, {"pain", "was 2 yesterday, today it's worse"},
		{"yesno", "Yes please!"}, {"yesno", "no thank you"}, {"weight", "150 lbs"},
	} {
		b.Run(tc.spec+"/"+strings.ReplaceAll(tc.reply, " ", "_"), func(b *testing.B) {
			spec := corpusSpecs[tc.spec]
			b.ReportAllocs()
			for b.Loop() {
				outreach.ReadAnswer(spec, tc.reply)
			}
		})
	}
}
