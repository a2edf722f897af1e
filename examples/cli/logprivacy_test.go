package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/internal/phicheck"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/studio/studiotest"
)

// privacyCampaign is the --name of the log privacy test: as an operator
// may type it, with a patient's name in it.
const privacyCampaign = "Oncology follow-up Zebulon"

// privacyPeople are its recipients, with names and replies found nowhere
// else, so that the check cannot pass by accident. confused is each
// patient's first answer (words the flow cannot read) on Studio.
var privacyPeople = []struct {
	id, first, written, e164, confused string
}{
	{"ZQ-1", "Zebulon", "(440) 555-0142", "+14405550142", "Quixotic marmalade sandwich"},
	{"ZQ-2", "Philomena", "212.555.0129", "+12125550129", "Xylophone quagmire tonight"},
	{"ZQ-3", "Bartholomew", "1-907-555-0192", "+19075550192", "Zanzibar periwinkle soup"},
	{"ZQ-4", "Euphrosyne", "+1 808 555 0164", "+18085550164", "Marmoset juniper ballad"},
}

// privacyCSV writes the recipients file of privacyPeople in dir.
func privacyCSV(t *testing.T, dir string) string {
	t.Helper()
	rows := []string{"patient_id,patient_first_name,patient_phone"}
	for _, p := range privacyPeople {
		rows = append(rows, p.id+","+p.first+",\""+p.written+"\"")
	}
	// The file's name may hold PHI too.
	return writeFile(t, filepath.Join(dir, "oncology-zebulon.csv"), strings.Join(rows, "\n")+"\n")
}

// privacySecrets are the names, numbers and campaign name of the test.
func privacySecrets() *phicheck.Secrets {
	s := &phicheck.Secrets{}
	s.Add("campaign name", privacyCampaign)
	for _, p := range privacyPeople {
		s.Add("first name", p.first)
		s.AddPhone(p.e164)
	}
	return s
}

// lockedBuffer is a bytes.Buffer that several goroutines write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsHoldNoPHI (issue 12): full campaigns run by the CLI, on the
// embedded runtime's simulated phones and on the studio runtime against
// the fake Twilio, with every log line captured (the logger at debug
// level, and all of standard error): no recipient's name, phone number
// in any format, reply, message body or campaign name appears. Standard
// output is the command's own report to the operator who typed the
// campaign name, not a log: it is not checked.
func TestLogsHoldNoPHI(t *testing.T) {
	t.Parallel()
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "sim.db")
		var stdout, stderr lockedBuffer
		a := &app{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }, logLevel: slog.LevelDebug}
		// The simulated patients answer as the seed has them (most reply,
		// some are silent, stop or cannot be reached).
		code := run(context.Background(), a, []string{"run", "--flow", "provider", "--csv", privacyCSV(t, dir), "--db", db,
			"--name", privacyCampaign, "--seed", "559", "--window", "00:00-24:00", "--start", clocktest.Start(t).Format(time.RFC3339)})
		if code != exitOK {
			t.Fatalf("run exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		}
		s := privacySecrets()
		sent, replies := storedBodies(t, db)
		if len(sent) < len(privacyPeople) {
			t.Fatalf("%d messages sent to %d recipients", len(sent), len(privacyPeople))
		}
		s.Add("message body", sent...)
		s.Add("reply", replies...)
		// Seed 559 makes Euphrosyne's phone unreachable: the run logs a
		// failed send, with her number masked.
		if !strings.Contains(stderr.String(), `msg="outreach: send failed"`) || !strings.Contains(stderr.String(), "to=***0164") {
			t.Errorf("no failed send logged for ***0164 (has the simulation's seed changed meaning?):\n%s", stderr.String())
		}
		s.Check(t, "cli run stderr (embedded runtime)", stderr.String())
	})

	t.Run("studio", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "studio.db")
		// The fake's interpreter logs too: the fake stands in for Twilio,
		// whose logs are not ours, but the interpreter is our code.
		var fakeLog lockedBuffer
		// The binary's studio runtime tells the time by the system clock,
		// as it must with the real Twilio, so the fake keeps it too; with
		// quiet hours off (--window) the hour does not matter.
		srv := twiliotest.New(twiliotest.Options{Numbers: []string{"+15005550006"},
			Studio:              studiotest.NewInterpreter(studiotest.InterpreterOptions{Logger: slog.New(slog.NewTextHandler(&fakeLog, &slog.HandlerOptions{Level: slog.LevelDebug}))}),
			ExecutionsPerSecond: studio.MaxExecutionsPerSecond})
		defer srv.Close()
		for _, p := range privacyPeople {
			srv.Network().Add(p.e164, simphone.Persona{Responder: simphone.Scripted(p.confused, "3", "yes"), Delay: 50 * time.Millisecond})
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go srv.Run(ctx)
		env := map[string]string{
			"TWILIO_API_BASE": srv.URL(), "TWILIO_ACCOUNT_SID": srv.AccountSID(),
			"TWILIO_AUTH_TOKEN": srv.AuthToken(), "TWILIO_PHONE_NUMBER": "+15005550006",
		}
		var stdout, stderr lockedBuffer
		a := &app{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return env[k] }, logLevel: slog.LevelDebug}
		runCtx, stop := context.WithTimeout(t.Context(), 2*time.Minute)
		defer stop()
		code := run(runCtx, a, []string{"run", "--runtime", "studio", "--flow", "provider", "--csv", privacyCSV(t, dir), "--db", db,
			"--name", privacyCampaign, "--window", "00:00-24:00", "--studio-poll", "100ms"})
		if code != exitOK {
			t.Fatalf("run --runtime studio exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		}
		s := privacySecrets()
		var sent, replies []string
		for _, m := range srv.Messages() {
			if m.Direction == "inbound" {
				replies = append(replies, m.Body)
			} else {
				sent = append(sent, m.Body)
			}
		}
		// A full campaign: every patient answered all three questions.
		if len(replies) != 3*len(privacyPeople) {
			t.Fatalf("the phones sent %d replies; want %d: %q", len(replies), 3*len(privacyPeople), replies)
		}
		s.Add("message body", sent...)
		s.Add("reply", replies...)
		if !strings.Contains(stderr.String(), "studio execution created") || !strings.Contains(fakeLog.String(), "studio: reply") {
			t.Errorf("the logs were not captured:\n%s\nfake:\n%s", stderr.String(), fakeLog.String())
		}
		s.Check(t, "cli run stderr (studio runtime)", stderr.String())
		s.Check(t, "the fake's Studio interpreter log", fakeLog.String())
	})
}

// storedBodies returns the bodies of the messages db holds: those sent
// and those received.
func storedBodies(t *testing.T, db string) (sent, received []string) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	camps, err := s.Campaigns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range camps {
		convs, err := s.Conversations(ctx, c.ID, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, conv := range convs {
			msgs, err := s.Messages(ctx, conv.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.Direction == outreach.Inbound {
					received = append(received, m.Body)
				} else {
					sent = append(sent, m.Body)
				}
			}
		}
	}
	return sent, received
}
