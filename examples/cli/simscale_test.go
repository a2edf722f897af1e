package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// writeRecipients writes a recipients CSV of n rows (n at most 1,000,000)
// to path: ids P-000001..., first names Pat1..., and distinct valid US
// numbers in area code 440 (Ohio), exchanges 644 and up, each exchange
// holding 10,000 lines: +1 440 644 0000, +1 440 644 0001... The same n
// gives the same file.
func writeRecipients(tb testing.TB, path string, n int) {
	tb.Helper()
	if n > 1_000_000 {
		tb.Fatalf("writeRecipients: %d rows: at most 1,000,000", n)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "patient_id,patient_first_name,patient_phone")
	for i := range n {
		fmt.Fprintf(w, "P-%06d,Pat%d,+1 440 %03d %04d\n", i+1, i+1, 644+i/10000, i%10000)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// runSimulated runs the run command in-process on a new database in dir
// with the simulated clock from clocktest.Start and seed 1, and returns
// how long it took.
func runSimulated(tb testing.TB, dir, csvPath, flow string) (string, time.Duration) {
	tb.Helper()
	db := filepath.Join(dir, "sim.db")
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	start := time.Now()
	code := run(context.Background(), a, []string{"run", "--csv", csvPath, "--db", db, "--flow", flow, "--seed", "1",
		"--every", "1h", "--start", clocktest.Start(tb).Format(time.RFC3339)})
	took := time.Since(start)
	if code != exitOK {
		tb.Fatalf("run exited %d\n%s\n%s", code, out.String(), errb.String())
	}
	return db, took
}

// BenchmarkSimulatedRun runs the run command in-process on a generated
// file of 10,000 recipients (OUTREACH_BENCH_ROWS sets another number), with
// simulated phones and the simulated clock, and reports conversations/s.
func BenchmarkSimulatedRun(b *testing.B) {
	rows := 10_000
	if v := os.Getenv("OUTREACH_BENCH_ROWS"); v != "" {
		if _, err := fmt.Sscan(v, &rows); err != nil || rows <= 0 {
			b.Fatalf("OUTREACH_BENCH_ROWS=%q: want a positive number", v)
		}
	}
	dir := b.TempDir()
	csvPath := filepath.Join(dir, "recipients.csv")
	writeRecipients(b, csvPath, rows)
	b.ResetTimer()
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		runDir := filepath.Join(dir, fmt.Sprint(i))
		if err := os.Mkdir(runDir, 0o755); err != nil {
			b.Fatal(err)
		}
		_, took := runSimulated(b, runDir, csvPath, "provider")
		total += took
	}
	b.ReportMetric(float64(rows*b.N)/total.Seconds(), "conversations/s")
}

// TestSimulatedCampaignScale runs a generated campaign of 10,000
// recipients on the provider flow to its end in-process, through the
// functions the run command uses, with simulated phones on the simulated
// clock (in run's default steps). Every conversation must end, and each patient's phone must have
// received exactly the messages the flow prescribes for the replies that
// phone sent: its messages are replayed through outreach.Advance, with
// the timeouts the runner applies, and must match in order, key and body.
// It is skipped with -short and under the race detector (the runtime's
// goroutines are raced by TestRunInProcess); CI runs it without.
// Conversations a keyword (STOP, HELP...) ended or changed are only
// checked for what every conversation must satisfy; those of unreachable
// and undeliverable phones must end delivery_failed.
func TestSimulatedCampaignScale(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("10,000 simulated conversations: skipped with -short and under the race detector")
	}
	const rows = 10_000
	ctx := context.Background()
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "recipients.csv")
	writeRecipients(t, csvPath, rows)
	file := recipientFile{path: csvPath, opts: csvio.Options{DefaultRegion: "US"}}
	res, err := checkRecipients(ctx, file.path, file.opts, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != rows || len(res.Errors)+len(res.Warnings) > 0 {
		t.Fatalf("generated file: %d rows, %d errors, %d warnings; want %d valid rows", res.Rows, len(res.Errors), len(res.Warnings), rows)
	}
	store, err := openSimStore(ctx, filepath.Join(dir, "sim.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	rf := runtimeFlags{name: "embedded", zone: "America/New_York", window: "08:00-21:00"}
	cfg, err := rf.config(a, store, simConfig{Seed: 1, Start: clocktest.Start(t), Step: defaultSimStep}) // as run does
	if err != nil {
		t.Fatal(err)
	}
	sim := newSimulated(cfg)
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	camp, _, _, err := createOrResume(ctx, store, sim, cfg.World, "scale", flow, cfg.From, file)
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntilDone(ctx, sim, store, camp.ID, newReporter(a, camp.ID, time.Hour)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}

	convs, err := store.Conversations(ctx, camp.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != rows {
		t.Fatalf("%d conversations, want %d", len(convs), rows)
	}
	replayed := 0
	for _, c := range convs {
		if c.Status != outreach.ConversationDone || c.Outcome == "" {
			t.Errorf("conversation %d (%s) is %s, outcome %q", c.ID, c.Recipient.ID, c.Status, c.Outcome)
			continue
		}
		msgs, err := store.Messages(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var sent []outreach.Message
		for _, m := range msgs {
			switch {
			case m.Direction != outreach.Outbound:
			case m.Status == outreach.MessageSending || m.Status == outreach.MessageUnknown || m.Status == outreach.MessageQueued:
				t.Errorf("conversation %d ended with message %v %s", c.ID, m.Key, m.Status)
			case m.Status == outreach.MessageSent:
				sent = append(sent, m)
			}
		}
		ph := sim.net.Phone(c.Recipient.Phone)
		if ph == nil {
			t.Errorf("conversation %d: no phone at %s", c.ID, c.Recipient.Phone)
			continue
		}
		if pe := ph.Persona(); pe.Unreachable || pe.Undeliverable {
			if c.Outcome != outreach.OutcomeDeliveryFailed {
				t.Errorf("conversation %d: outcome %s, want %s: its messages cannot reach the phone", c.ID, c.Outcome, outreach.OutcomeDeliveryFailed)
			}
			continue
		}
		inbox := ph.Inbox()
		if len(inbox) != len(sent) {
			t.Errorf("conversation %d: %d messages recorded sent, the phone has %d", c.ID, len(sent), len(inbox))
			continue
		}
		for i, m := range inbox {
			if m.Key != sent[i].Key || m.Body != sent[i].Body || m.SID != sent[i].ProviderID {
				t.Errorf("conversation %d: message %d on the phone is %v %q (%s), recorded %v %q (%s)", c.ID, i, m.Key, m.Body, m.SID, sent[i].Key, sent[i].Body, sent[i].ProviderID)
			}
		}
		if ok, why := replay(flow, c, inbox, ph.Replies()); why != "" {
			t.Errorf("conversation %d (%s, outcome %s): %s", c.ID, c.Recipient.ID, c.Outcome, why)
		} else if ok {
			replayed++
		}
	}
	// RandomPersona: some 10% of patients text STOP or cannot be reached.
	if replayed < rows*8/10 {
		t.Errorf("only %d of %d conversations replayed through the flow", replayed, rows)
	}
	t.Logf("%d of %d conversations replayed through the flow; runner %+v", replayed, rows, sim.Runner.Stats())
}

// replay checks the messages a phone received (inbox, in order) against
// what the flow prescribes for the replies it sent, applying the runner's
// timeouts (a wait ends at its question's send time plus the timeout, if
// no reply came before). ok is false, with no complaint, when a keyword
// took the conversation off the flow's own path; why says what did not
// match.
func replay(f *outreach.Flow, c outreach.Conversation, inbox []simphone.Message, replies []simphone.Reply) (ok bool, why string) {
	for _, r := range replies {
		if outreach.ParseKeyword(r.Body) != outreach.NoKeyword || outreach.ClassifyOptOut(r.Body) != outreach.NotOptOut {
			return false, ""
		}
	}
	rec := c.Recipient
	var st outreach.State
	var want []outreach.Send
	apply := func(ev outreach.Event) string {
		next, acts, err := outreach.Advance(f, c.ID, rec, st, ev)
		if err != nil {
			return fmt.Sprintf("advance %s: %v", ev.Type, err)
		}
		st = next
		for _, a := range acts {
			if s, ok := a.(outreach.Send); ok {
				want = append(want, s)
			}
		}
		return ""
	}
	if why := apply(outreach.Event{Type: outreach.EventStart, At: c.CreatedAt}); why != "" {
		return false, why
	}
	got, ri := 0, 0
	var deadline time.Time // of the current wait, once its question is received
	for !st.Done || len(want) > 0 {
		// The next thing that happens: a message arrives, a reply is
		// sent, or the wait times out (only with nothing left to send).
		switch {
		case len(want) > 0:
			if got == len(inbox) {
				return false, fmt.Sprintf("the phone never received %v %q", want[0].Key, want[0].Body)
			}
			m := inbox[got]
			if ri < len(replies) && replies[ri].At.Before(m.At) {
				// A reply sent before the message: it reaches the
				// conversation first.
				break
			}
			if m.Key != want[0].Key || m.Body != want[0].Body {
				return false, fmt.Sprintf("message %d is %v %q, the flow prescribes %v %q", got, m.Key, m.Body, want[0].Key, want[0].Body)
			}
			if st.Waiting && m.Key == st.Wait {
				deadline = m.At.Add(time.Duration(st.Timeout))
			}
			got++
			want = want[1:]
			continue
		}
		if ri < len(replies) && (deadline.IsZero() || replies[ri].At.Before(deadline)) {
			r := replies[ri]
			ri++
			if why := apply(outreach.Event{Type: outreach.EventReplied, Body: r.Body, At: r.At}); why != "" {
				return false, why
			}
			deadline = time.Time{}
			continue
		}
		if !st.Waiting || deadline.IsZero() {
			return false, fmt.Sprintf("the flow waits for nothing that comes (state %+v)", st)
		}
		if why := apply(outreach.Event{Type: outreach.EventTimedOut, Key: st.Wait, At: deadline}); why != "" {
			return false, why
		}
		deadline = time.Time{}
	}
	if len(want) > 0 || got != len(inbox) {
		return false, fmt.Sprintf("the flow ended (%s) with %d messages prescribed unsent and %d received beyond it", st.Outcome, len(want), len(inbox)-got)
	}
	if st.Outcome != c.Outcome {
		return false, fmt.Sprintf("the flow ends %s, the conversation ended %s", st.Outcome, c.Outcome)
	}
	return true, ""
}
