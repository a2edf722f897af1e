package studio_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
)

// readReplies reads the reply column of testdata/replies.tsv; "<empty>"
// stays as it is (the responder reads it as silence).
func readReplies(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/replies.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	header := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if !header {
			header = true
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 2 {
			t.Fatalf("replies.tsv: %q has no reply column", line)
		}
		out = append(out, cols[1])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// steerer gives the replies that take a definition's questions down
// their branches: for each send-and-wait-for-reply widget, the values
// the splits after it test (equal_to values, matches_any_of items, ...),
// so that every question is reached.
type steerer struct {
	texts  []string   // each question's longest literal text
	values [][]string // and its values
}

func newSteerer(def *studio.Definition) *steerer {
	st := &steerer{}
	for _, w := range def.States {
		if w.Type != studio.TypeSendAndWait {
			continue
		}
		var p studio.MessageProperties
		if err := w.DecodeProperties(&p); err != nil {
			continue
		}
		text := ""
		for _, part := range liquidTag.Split(p.Body, -1) {
			if len(strings.TrimSpace(part)) > len(text) {
				text = strings.TrimSpace(part)
			}
		}
		if text == "" {
			continue
		}
		seen := map[string]bool{}
		var vals []string
		next, _ := w.Next(studio.EventIncomingMessage)
		for hops := 0; next != "" && hops < 10; hops++ {
			sp := def.StateByName(next)
			if sp != nil && (sp.Type == studio.TypeRunFunction || sp.Type == studio.TypeHTTPRequest) {
				next, _ = sp.Next(studio.EventSuccess) // splits may read the call's answer
				continue
			}
			if sp == nil || sp.Type != studio.TypeSplit {
				break
			}
			for _, tr := range sp.Transitions {
				for _, c := range tr.Conditions {
					items := []string{c.Value}
					switch c.Type {
					case studio.CondMatchesAnyOf:
						items = strings.Split(c.Value, ",")
					case studio.CondIsBlank, studio.CondIsNotBlank, studio.CondRegex:
						items = nil
					case studio.CondGreaterThan, studio.CondLessThan:
						items = nil
						if b, err := strconv.Atoi(strings.TrimSpace(c.Value)); err == nil {
							items = []string{strconv.Itoa(b - 1), strconv.Itoa(b), strconv.Itoa(b + 1)}
						}
					}
					for _, v := range items {
						if v = strings.TrimSpace(v); v != "" && !strings.Contains(v, "{") && !seen[v] {
							seen[v] = true
							vals = append(vals, v)
						}
					}
				}
			}
			next, _ = sp.Next(studio.EventNoMatch)
		}
		st.texts = append(st.texts, text)
		st.values = append(st.values, vals)
	}
	return st
}

var liquidTag = regexp.MustCompile(`\{\{.*?\}\}|\{%.*?%\}`)

// valuesFor returns the values of the question whose text body holds,
// and whether body is a question (a send-and-wait-for-reply's message).
func (st *steerer) valuesFor(body string) ([]string, bool) {
	i := st.question(body)
	if i < 0 {
		return nil, false
	}
	return st.values[i], true
}

// question returns the index of the question whose text body holds, or
// -1.
func (st *steerer) question(body string) int {
	best := -1
	for i, t := range st.texts {
		if strings.Contains(body, t) && (best < 0 || len(t) > len(st.texts[best])) {
			best = i
		}
	}
	return best
}

// corpusResponder answers each question (the message of a
// send-and-wait-for-reply widget) of phone i: every other reply from the
// corpus ("<empty>" is silence), the rest with a value of the question's
// splits. Phones of the two runtimes get equal responders, and answer
// alike as long as they are asked alike. Messages of send-message widgets
// get no answer, even when they read as questions: a patient answering
// both a send-message and the question sent right after it texts twice
// at once, and the runtimes take such texts differently (see the
// Machine's divergences in the report of issue 14).
type corpusResponder struct {
	i      int
	corpus []string
	steer  *steerer
	// fromCorpus counts the replies drawn from the corpus, by question.
	fromCorpus *corpusCount

	mu sync.Mutex
	k  int
}

// mix hashes (i, k) (splitmix64's finaliser), so that the replies of one
// patient to successive questions are drawn independently.
func mix(i, k uint64) uint64 {
	x := i*0x9E3779B97F4A7C15 + k*0xBF58476D1CE4E5B9 + 1
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}

// corpusCount counts corpus replies by question (steerer index).
type corpusCount struct {
	mu sync.Mutex
	n  map[int]int
}

func (c *corpusCount) add(q int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[int]int{}
	}
	c.n[q]++
}

func (c *corpusCount) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := 0
	for _, v := range c.n {
		t += v
	}
	return t
}

func (c *corpusResponder) Reply(body string, _ *rand.Rand) (string, bool) {
	vals, ok := c.steer.valuesFor(body)
	if !ok {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.k
	c.k++
	h := mix(uint64(c.i), uint64(k))
	if len(vals) > 0 && h%steerOf != 0 {
		return vals[(h/steerOf)%uint64(len(vals))], true
	}
	r := c.corpus[(h/steerOf)%uint64(len(c.corpus))]
	c.fromCorpus.add(c.steer.question(body))
	return r, r != "<empty>"
}

// steerOf is how many replies in steerOf are steered, less one: the
// others come from the corpus.
const steerOf = 3

func diffRecipients(n int, net *simphone.Network, corpus []string, steer *steerer, fromCorpus *corpusCount) []outreach.Recipient {
	recs := make([]outreach.Recipient, n)
	for i := range recs {
		recs[i] = outreach.Recipient{
			ID: fmt.Sprintf("p%04d", i), FirstName: fmt.Sprintf("Pat%d", i), Phone: fmt.Sprintf("+1212555%04d", i),
			Attrs: map[string]string{"clinic": "north"},
		}
		net.Add(recs[i].Phone, simphone.Persona{Responder: &corpusResponder{i: i, corpus: corpus, steer: steer, fromCorpus: fromCorpus}, Delay: time.Minute})
	}
	return recs
}

// studioAutoReplies are the texts the fake Twilio sends on its own for
// keywords; the embedded simulation drops the runner's keyword answers,
// so they are left out of the messages compared.
var studioAutoReplies = map[string]bool{
	twiliotest.OptOutConfirmation: true, twiliotest.OptInConfirmation: true, twiliotest.HelpResponse: true,
}

// inboxes returns the bodies each phone received, in order.
func inboxes(net *simphone.Network) map[string][]string {
	out := map[string][]string{}
	for _, p := range net.Phones() {
		for _, m := range p.Inbox() {
			if !studioAutoReplies[m.Body] {
				out[p.Number()] = append(out[p.Number()], m.Body)
			}
		}
	}
	return out
}

var dbgPhone string

func outcomes(t *testing.T, s outreach.Store, id int64) map[string]string {
	t.Helper()
	out := map[string]string{}
	for after := int64(0); ; {
		convs, err := s.Conversations(t.Context(), id, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(convs) == 0 {
			return out
		}
		for _, c := range convs {
			out[c.Recipient.ID] = c.Outcome
		}
		after = convs[len(convs)-1].ID
	}
}

// diffResult is what one differential run found.
type diffResult struct {
	recipients, replies, corpusReplies int
	perQuestion                        map[string]int
	corpusPerQuestion                  map[string]int // by the question's first words
	outcomes                           map[string]int
	// explained are the recipients who texted an opt-out that the
	// library reads and Twilio does not ("STOP PLEASE"): the embedded
	// runner stops at once (opt-out is absolute), Studio goes on. Their
	// differences are left out of the lists below.
	explained                 map[string]bool
	outcomeDiff, messagesDiff []string
	csvDiff                   string
}

// twilioOptOut reports whether Twilio reads body as an opt-out keyword:
// the whole text, punctuation and spaces around it ignored (as the fake
// does, after Twilio's documentation).
func twilioOptOut(body string) bool {
	w := strings.ToUpper(strings.TrimFunc(body, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }))
	switch w {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT":
		return true
	}
	return false
}

// withoutPatients drops the CSV rows of the given patients.
func withoutPatients(csv string, ids map[string]bool) string {
	var b strings.Builder
	for line := range strings.SplitAfterSeq(csv, "\n") {
		id, _, _ := strings.Cut(line, ",")
		if !ids[id] {
			b.WriteString(line)
		}
	}
	return b.String()
}

// diffRuntimes runs flow (which has a Studio Source) for n recipients in
// the Studio runtime over the fake, where the Interpreter runs the
// deployed Source definition, and in the embedded runner with the
// Machine, the patients answering from the corpus, and compares
// outcomes, the messages each phone received and the responses CSVs.
func diffRuntimes(t *testing.T, flow *outreach.Flow, n int, corpus []string, calls *studio.Calls) diffResult {
	t.Helper()
	def, err := studio.RunDefinition(flow)
	if err != nil {
		t.Fatalf("RunDefinition: %v", err)
	}
	steer := newSteerer(def)
	var studioCorpus, embeddedCorpus corpusCount

	r := newStudioRig(t, rigOptions{noThrottle: true, calls: calls})
	c, added, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "studio", Flow: flow}, diffRecipients(n, r.net, corpus, steer, &studioCorpus))
	if err != nil || added != n {
		t.Fatalf("CreateCampaign = %d, %v", added, err)
	}
	if err := r.rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	r.drive(c.ID)
	studioCSV := exportCSV(t, r.store, c.ID)
	runErrors := map[string]int{}
	for _, e := range r.srv.Executions(c.RuntimeRef) {
		if e.RunError != "" {
			runErrors[e.RunError]++
		}
	}
	for msg, k := range runErrors {
		t.Logf("%d studio executions ended with: %s", k, msg)
	}

	clock := outreach.NewManualClock(rtNoon)
	net := simphone.New(clock, 7)
	store := memstore.New()
	runner := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: rtFrom, Clock: clock, NoThrottle: true, Logger: quiet,
		Machines: map[string]outreach.Machine{studio.SourceFormat: &studio.Machine{Calls: calls}},
	})
	ec, _, err := runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "embedded", Flow: flow}, diffRecipients(n, net, corpus, steer, &embeddedCorpus))
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.StartCampaign(r.ctx, ec.ID); err != nil {
		t.Fatal(err)
	}
	sim := simphone.Simulation{Runner: runner, Store: store, Network: net, Clock: clock}
	if _, err := sim.Run(r.ctx, ec.ID); err != nil {
		t.Fatal(err)
	}
	embeddedCSV := exportCSV(t, store, ec.ID)

	res := diffResult{recipients: n, perQuestion: map[string]int{}, outcomes: map[string]int{}, explained: map[string]bool{},
		corpusReplies: embeddedCorpus.total(), corpusPerQuestion: map[string]int{}}
	for q, k := range embeddedCorpus.n {
		res.corpusPerQuestion[steer.texts[q][:min(24, len(steer.texts[q]))]] = k
	}
	patient := map[string]string{} // by phone
	for i := range n {
		patient[fmt.Sprintf("+1212555%04d", i)] = fmt.Sprintf("p%04d", i)
	}
	for _, p := range net.Phones() {
		for _, rp := range p.Replies() {
			if outreach.ParseKeyword(rp.Body) == outreach.KeywordStop && !twilioOptOut(rp.Body) {
				res.explained[patient[p.Number()]] = true
			}
		}
	}
	resps, err := store.Responses(r.ctx, ec.ID, outreach.ResponsePage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range resps {
		res.perQuestion[x.QuestionID]++
	}
	for _, p := range net.Phones() {
		res.replies += len(p.Replies())
	}
	so, eo := outcomes(t, r.store, c.ID), outcomes(t, store, ec.ID)
	for id, o := range eo {
		res.outcomes[o]++
		if so[id] != o && !res.explained[id] {
			res.outcomeDiff = append(res.outcomeDiff, fmt.Sprintf("%s: studio %q, embedded %q", id, so[id], o))
		}
	}
	sort.Strings(res.outcomeDiff)
	if dbgPhone != "" {
		for _, nn := range []*simphone.Network{r.net, net} {
			p := nn.Phone(dbgPhone)
			for _, m := range p.Inbox() {
				t.Logf("in  %v %.60q", m.At.Format("15:04:05"), m.Body)
			}
			for _, m := range p.Replies() {
				t.Logf("out %v %q (to %.40q)", m.At.Format("15:04:05"), m.Body, m.Question)
			}
			t.Log("----")
		}
	}
	si, ei := inboxes(r.net), inboxes(net)
	for _, p := range net.Phones() {
		num := p.Number()
		if !slices.Equal(si[num], ei[num]) && !res.explained[patient[num]] {
			res.messagesDiff = append(res.messagesDiff, fmt.Sprintf("%s:\n    studio   %q\n    embedded %q", num, si[num], ei[num]))
		}
	}
	sort.Strings(res.messagesDiff)
	if sc, ec := withoutPatients(studioCSV, res.explained), withoutPatients(embeddedCSV, res.explained); sc != ec {
		res.csvDiff = lineDiff(ec, sc)
	}
	return res
}

// sourceOf returns the flow Import makes of definition file data, with
// data as its Source.
func sourceOf(t *testing.T, name string, data []byte) *outreach.Flow {
	t.Helper()
	def, err := studio.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := studio.Import(def)
	if err != nil {
		t.Fatalf("%s: Import: %v", name, err)
	}
	if f.ID == "" {
		f.ID = name
	}
	f.Name = "diff-" + name
	f.Source.Data = json.RawMessage(data)
	// The campaigns compared start from a list: patients texting in
	// start none of them (TestPatientStartedFlows runs those).
	f.Trigger = nil
	return f
}

// startsOnRequest reports whether def's trigger starts a REST API
// execution somewhere, and the widget types it holds.
func startsOnRequest(def *studio.Definition) (bool, map[string]bool) {
	types := map[string]bool{}
	for _, s := range def.States {
		types[s.Type] = true
	}
	trig := def.StateByName(def.InitialState)
	if trig == nil {
		return false, types
	}
	next, ok := trig.Next(studio.EventIncomingRequest)
	return ok && next != "", types
}

// pcpCalls runs the PCP follow-up export's save-response Twilio
// Function, ported to Go as studiotest's tests port it: it gives the
// answer back normalised, and its splits read that.
var pcpCalls = &studio.Calls{Functions: map[string]studio.Function{
	"save-response": func(_ context.Context, p map[string]string) (studio.FunctionResult, error) {
		return studio.FunctionResult{Body: []byte(strings.ToUpper(strings.TrimSpace(p["response"])))}, nil
	},
}}

// TestMachineMatchesStudio is the differential test of issue 14: each
// exported definition (those that start on incomingRequest with SMS
// widgets only are the point; the others run too, their calls failing
// or answered by a Go port of the Twilio Function, their other widget
// types ending the conversation), and the built-in provider and pharma
// flows exported with FromFlow, run in the Studio runtime (the Interpreter, over the fake)
// and in the embedded runner (the Machine), for the same patients
// answering from testdata/replies.tsv. Outcomes, the messages each phone
// received and the responses CSVs must be equal.
func TestMachineMatchesStudio(t *testing.T) {
	t.Parallel()
	studio.SkipRace(t)
	corpus := readReplies(t)
	sms := map[string]bool{studio.TypeTrigger: true, studio.TypeSendMessage: true, studio.TypeSendAndWait: true, studio.TypeSplit: true, studio.TypeSetVariables: true}

	type tcase struct {
		name  string
		flow  *outreach.Flow
		note  string
		calls *studio.Calls
	}
	// known are the exports on which the runtimes are known to differ,
	// and why; their differences are reported, not failed.
	known := map[string]string{
		"blueprint-webchat-bot":     "webchat (Conversations) widgets send from a name, not the campaign's number: the fake refuses that From (21606), the Machine, which sends from the campaign's number only, ends the conversation \"unsupported: ... to or from another address\"",
		"hls-webchat-conversations": "webchat (Conversations) widgets send from a name, not the campaign's number: the fake refuses that From (21606), the Machine, which sends from the campaign's number only, ends the conversation \"unsupported: ... to or from another address\"",
	}
	var cases []tcase
	files, _ := filepath.Glob("testdata/exports/*.json")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		def, err := studio.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		ok, types := startsOnRequest(def)
		var other []string
		for ty := range types {
			if !sms[ty] {
				other = append(other, ty)
			}
		}
		sort.Strings(other)
		if name == "pcp-followup" {
			cases = append(cases, tcase{name, sourceOf(t, name, data), "imported; run-function by a Go port of save-response", pcpCalls})
			continue
		}
		if name == "vaccine-standby-list" {
			t.Logf("%s: not run: Twilio refuses it (a transition to a widget it does not have)", name)
			continue
		}
		note := "imported"
		if !ok {
			note += "; starts on another trigger event (Deploy wires incomingRequest there)"
		}
		if len(other) > 0 {
			// Calls fail (no host allowed, no function) and other widget
			// types end the conversation "unsupported: TYPE", alike in
			// both runtimes.
			note += fmt.Sprintf("; other widget types %v", other)
		}
		cases = append(cases, tcase{name, sourceOf(t, name, data), note, nil})
	}
	for _, b := range []string{"provider", "pharma"} {
		f, err := flows.Builtin(b)
		if err != nil {
			t.Fatal(err)
		}
		def, err := studio.FromFlow(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		f.Source = &outreach.Source{Format: studio.SourceFormat, Data: data}
		cases = append(cases, tcase{"builtin-" + b, f, "built-in flow with its FromFlow export as Source", nil})
	}

	// 600 recipients each; more where few reach the last questions
	// (three YES in a row, a function's answer in a row), so that at
	// least 50 replies reach each question.
	// On a sample of a tenth with -short or the race detector (see
	// FullScale).
	const n = 600
	more := map[string]int{"blueprint-research": 2000, "pcp-followup": 1700}
	sample := 1
	if !studio.FullScale() {
		sample = 10
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := diffRuntimes(t, c.flow, cmp.Or(more[c.name], n)/sample, corpus, c.calls)
			qs := make([]string, 0, len(res.perQuestion))
			for q, k := range res.perQuestion {
				qs = append(qs, fmt.Sprintf("%s=%d", q, k))
			}
			sort.Strings(qs)
			t.Logf("%s (%s): %d recipients, %d replies (%d drawn from the corpus: %v); answers per question %v; outcomes %v; "+
				"%d recipients texted an opt-out Twilio does not read (left out); mismatches: %d outcomes, %d phones' messages, CSV equal %v",
				c.name, c.note, res.recipients, res.replies, res.corpusReplies, res.corpusPerQuestion, qs, res.outcomes,
				len(res.explained), len(res.outcomeDiff), len(res.messagesDiff), res.csvDiff == "")
			if why, ok := known[c.name]; ok {
				t.Logf("%s: known divergence, not failed (%d outcomes, %d phones' messages, CSV equal %v): %s",
					c.name, len(res.outcomeDiff), len(res.messagesDiff), res.csvDiff == "", why)
				return
			}
			for i, d := range res.outcomeDiff {
				if i < 10 {
					t.Errorf("outcome %s", d)
				}
			}
			for i, d := range res.messagesDiff {
				if i < 5 {
					t.Errorf("messages of %s", d)
				}
			}
			if res.csvDiff != "" {
				t.Errorf("responses CSVs differ:\n%s", res.csvDiff)
			}
		})
	}
}
