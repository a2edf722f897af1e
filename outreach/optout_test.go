package outreach_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

type optOutRow struct {
	line         int
	reply, label string
	source       string
}

func readOptOutCorpus(t testing.TB) []optOutRow {
	t.Helper()
	f, err := os.Open("testdata/optout_replies.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []optOutRow
	sc := bufio.NewScanner(f)
	header := false
	seen := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if !header {
			if line != "reply\tlabel\tsource" {
				t.Fatalf("line %d: header %q, want reply, label, source", n, line)
			}
			header = true
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[2] == "" {
			t.Fatalf("line %d: %d columns, want reply, label, source", n, len(f))
		}
		switch f[1] {
		case "optout", "not", "ambiguous":
		default:
			t.Fatalf("line %d: label %q", n, f[1])
		}
		if seen[f[0]] != 0 {
			t.Fatalf("line %d: %q already on line %d", n, f[0], seen[f[0]])
		}
		seen[f[0]] = n
		rows = append(rows, optOutRow{line: n, reply: f[0], label: f[1], source: f[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// dangerous reports whether a negative holds a word an opt-out reader could
// trip on.
func dangerous(reply string) bool {
	words := strings.FieldsFunc(strings.ToLower(reply), func(r rune) bool { return !unicode.IsLetter(r) })
	for _, w := range words {
		for _, d := range []string{"stop", "end", "cancel", "quit", "no", "not", "remove", "para", "parar", "baja", "alto", "text", "dont", "don", "never", "more", "mas", "más", "unsubscribe", "want", "dej", "top", "step", "shop"} {
			if strings.HasPrefix(w, d) || strings.HasSuffix(w, d) {
				return true
			}
		}
	}
	return false
}

// TestClassifyOptOutCorpus reads the labelled replies of
// testdata/optout_replies.tsv: every opt-out but at most 5% must opt out,
// no negative may, and no ambiguous reply may pass as an answer.
func TestClassifyOptOutCorpus(t *testing.T) {
	rows := readOptOutCorpus(t)
	count := map[string]int{}
	var danger int
	var optHit, fp, negAmb, ambHit int
	for _, r := range rows {
		count[r.label]++
		got := outreach.ClassifyOptOut(r.reply)
		switch r.label {
		case "optout":
			if got == outreach.OptOut {
				optHit++
			} else {
				t.Errorf("line %d: ClassifyOptOut(%q) = %v, want optout (%s)", r.line, r.reply, got, r.source)
			}
		case "not":
			if dangerous(r.reply) {
				danger++
			}
			switch got {
			case outreach.OptOut:
				fp++
				t.Errorf("line %d: false opt-out: ClassifyOptOut(%q) = optout (%s)", r.line, r.reply, r.source)
			case outreach.OptOutAmbiguous:
				negAmb++
				t.Errorf("line %d: ClassifyOptOut(%q) = ambiguous, want not (%s)", r.line, r.reply, r.source)
			}
		case "ambiguous":
			if got == outreach.OptOutAmbiguous {
				ambHit++
			} else {
				t.Errorf("line %d: ClassifyOptOut(%q) = %v, want ambiguous (%s)", r.line, r.reply, got, r.source)
			}
		}
	}
	if len(rows) < 200 || count["not"] < 80 || danger < 80 {
		t.Errorf("corpus: %d rows, %d negatives of which %d look dangerous; want >= 200, >= 80, >= 80", len(rows), count["not"], danger)
	}
	recall := float64(optHit) / float64(count["optout"])
	t.Logf("corpus: %d rows (%d optout, %d not of which %d dangerous, %d ambiguous)", len(rows), count["optout"], count["not"], danger, count["ambiguous"])
	t.Logf("recall %.3f (%d/%d); false opt-outs %d/%d; negatives read as ambiguous %d; ambiguous kept ambiguous %d/%d",
		recall, optHit, count["optout"], fp, count["not"], negAmb, ambHit, count["ambiguous"])
	if recall < 0.95 {
		t.Errorf("recall %.3f, want >= 0.95", recall)
	}
	if fp != 0 {
		t.Errorf("%d false opt-outs, want 0", fp)
	}
}

// TestParseKeywordOptOutPhrases: ParseKeyword opts out on every opt-out
// ClassifyOptOut finds (so HandleInbound and the Studio collector do), and
// keeps START/UNSTOP and HELP/INFO as whole-message keywords.
func TestParseKeywordOptOutPhrases(t *testing.T) {
	tests := map[string]outreach.Keyword{
		"please stop texting me": outreach.KeywordStop, "ＳＴＯＰ": outreach.KeywordStop, "S T O P": outreach.KeywordStop,
		"🛑": outreach.KeywordStop, "no quiero más mensajes": outreach.KeywordStop, "ALTO": outreach.KeywordStop,
		"START": outreach.KeywordStart, "unstop!": outreach.KeywordStart, "Ｓｔａｒｔ": outreach.KeywordStart,
		"HELP": outreach.KeywordHelp, "info?": outreach.KeywordHelp, "Ayuda": outreach.KeywordHelp,
		"can you stop?": outreach.NoKeyword, "yes": outreach.NoKeyword, "start the meds": outreach.NoKeyword,
		"help me": outreach.NoKeyword, "I stopped smoking": outreach.NoKeyword, "": outreach.NoKeyword,
	}
	for in, want := range tests {
		if got := outreach.ParseKeyword(in); got != want {
			t.Errorf("ParseKeyword(%q) = %v, want %v", in, got, want)
		}
	}
}

// optOutVariants spells an opt-out keyword in ways that must not change
// what it means.
func optOutVariants(kw string) []string {
	spaced := strings.Join(strings.Split(kw, ""), " ")
	var full strings.Builder
	for _, r := range strings.ToUpper(kw) {
		full.WriteRune(r - 'A' + 'Ａ')
	}
	return []string{
		kw, strings.ToUpper(kw), strings.ToLower(kw), strings.ToUpper(kw[:1]) + strings.ToLower(kw[1:]),
		" " + kw + " ", kw + "!", kw + ".", kw + "!!!", "\"" + kw + "\"", "*" + kw + "*", spaced,
		strings.ToUpper(spaced), full.String(), kw + " please", "please " + kw, kw + " now",
	}
}

// FuzzClassifyOptOut checks that ClassifyOptOut never panics, answers one
// of its three classes, and reads every keyword the same under changes of
// case, spacing and punctuation.
func FuzzClassifyOptOut(f *testing.F) {
	for _, r := range readOptOutCorpus(f) {
		f.Add(r.reply, uint8(0))
	}
	f.Add("", uint8(1))
	f.Add("\xff\xfe stop", uint8(2))
	keywords := []string{"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "alto", "parar", "baja", "cancelar"}
	f.Fuzz(func(t *testing.T, body string, k uint8) {
		switch c := outreach.ClassifyOptOut(body); c {
		case outreach.NotOptOut, outreach.OptOut, outreach.OptOutAmbiguous:
		default:
			t.Fatalf("ClassifyOptOut(%q) = %d", body, c)
		}
		_ = outreach.ParseKeyword(body)
		// Case, doubled spaces and a final "!" never change an ASCII
		// message's class.
		if ascii(body) {
			want := outreach.ClassifyOptOut(body)
			for _, v := range []string{strings.ToUpper(body), strings.ToLower(body), strings.ReplaceAll(body, " ", "  "), body + "!"} {
				if got := outreach.ClassifyOptOut(v); got != want {
					t.Errorf("ClassifyOptOut(%q) = %v but ClassifyOptOut(%q) = %v", body, want, v, got)
				}
			}
		}
		kw := keywords[int(k)%len(keywords)]
		vs := optOutVariants(kw)
		v := vs[len(body)%len(vs)]
		if got := outreach.ClassifyOptOut(v); got != outreach.OptOut {
			t.Errorf("ClassifyOptOut(%q) = %v, want optout", v, got)
		}
		// Only punctuation and spaces around a keyword: still an opt-out.
		var pad strings.Builder
		for _, r := range body {
			if unicode.IsPunct(r) || unicode.IsSpace(r) {
				pad.WriteRune(r)
			}
		}
		if v := pad.String() + kw + pad.String(); outreach.ClassifyOptOut(v) != outreach.OptOut {
			t.Errorf("ClassifyOptOut(%q) = %v, want optout", v, outreach.ClassifyOptOut(v))
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestOptOutVariantsOfEveryKeyword(t *testing.T) {
	for _, kw := range []string{"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "alto", "parar", "baja", "cancelar"} {
		for _, v := range optOutVariants(kw) {
			if got := outreach.ClassifyOptOut(v); got != outreach.OptOut {
				t.Errorf("ClassifyOptOut(%q) = %v, want optout", v, got)
			}
		}
	}
}

// TestOptOutPhraseMidConversation: a patient who answers "please stop
// texting me" in the middle of a two-way conversation is opted out at
// once, the conversation ends opted_out, and no further question comes;
// START lets a new campaign reach them again.
func TestOptOutPhraseMidConversation(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.Manual(t)
	store := memstore.New()
	const from, patient = "+15005550006", "+14406443709"
	sim := simphone.NewSimulation(store, clock, 1, outreach.RunnerOptions{
		From: from, Window: outreach.AnyHour, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	runner, phones := sim.Runner, sim.Network
	// First answer the pain question, then, asked the next one, opt out in
	// words.
	phones.Add(patient, simphone.Persona{Responder: simphone.Scripted("4", "please stop texting me", "5"), Delay: time.Minute})
	zero, ten, day := 0.0, 10.0, 24.0
	flow := &outreach.Flow{
		ID: "two-questions",
		Steps: []outreach.Step{
			{ID: "ask_pain", Kind: outreach.StepAsk, Body: "How is your pain from 0 to 10?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &ten}, Next: "ask_sleep"},
			{ID: "ask_sleep", Kind: outreach.StepAsk, Body: "How many hours did you sleep last night?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &day}, Next: "ask_mood"},
			{ID: "ask_mood", Kind: outreach.StepAsk, Body: "How is your mood from 0 to 10?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &ten}, Next: "bye"},
			{ID: "bye", Kind: outreach.StepEnd, Body: "Thank you.", Outcome: "ok"},
		},
	}
	c, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: flow}, []outreach.Recipient{{ID: "p-1", FirstName: "Ana", Phone: patient}})
	if err != nil {
		t.Fatal(err)
	}

	opted, err := store.OptedOut(ctx, []string{patient})
	if err != nil {
		t.Fatal(err)
	}
	if !opted[patient] {
		t.Errorf("after %q the number is not opted out", "please stop texting me")
	}
	convs, err := store.Conversations(ctx, c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 || convs[0].Outcome != outreach.OutcomeOptedOut {
		t.Errorf("conversations = %+v, want one ended opted_out", convs)
	}
	p := phones.Phone(patient)
	var texts []string
	for _, m := range p.Inbox() {
		texts = append(texts, m.Body)
	}
	for _, m := range texts {
		if strings.Contains(m, "mood") || strings.Contains(m, "Thank you") {
			t.Errorf("message after the opt-out: %q (inbox %q)", m, texts)
		}
	}
	if n := strings.Count(strings.Join(texts, "\n"), "hours did you sleep"); n != 1 {
		t.Errorf("the question the patient opted out on was sent %d times, want 1 (inbox %q)", n, texts)
	}

	// START opts back in: a new campaign reaches the patient again.
	if _, err := runner.HandleInbound(ctx, outreach.InboundMessage{From: patient, To: from, Body: "START", ProviderID: "SM-start-1", ReceivedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if opted, err := store.OptedOut(ctx, []string{patient}); err != nil || opted[patient] {
		t.Fatalf("after START: opted out %v, %v; want false", opted, err)
	}
	one := &outreach.Flow{ID: "one-question", Steps: flow.Steps[:1:1]}
	one.Steps = append(one.Steps, flow.Steps[3])
	one.Steps[0].Next = "bye"
	c2, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "again", Flow: one}, []outreach.Recipient{{ID: "p-1", FirstName: "Ana", Phone: patient}})
	if err != nil {
		t.Fatal(err)
	}
	convs, err = store.Conversations(ctx, c2.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 || convs[0].Outcome != "ok" {
		t.Errorf("after START, the new campaign's conversations = %+v, want one ended ok", convs)
	}
}

// BenchmarkClassifyOptOut measures the classifier on typical replies: it
// runs on every inbound message.
func BenchmarkClassifyOptOut(b *testing.B) {
	bodies := []string{"7", "yes", "STOP", "please stop texting me", "should I stop the medication?", "no quiero más mensajes", "ＳＴＯＰ 🛑", "I'll stop by the clinic tomorrow after work, is that ok?"}
	for _, body := range bodies {
		b.Run(strings.ReplaceAll(body, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				outreach.ClassifyOptOut(body)
			}
		})
	}
}
