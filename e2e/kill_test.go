package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// fileSender is a provider that lives outside the runner's process: every
// accepted message is a line appended (and synced) to a file, so it
// survives the runner being killed. Like Twilio, it knows nothing of send
// keys: Lookup matches the recipient and the body.
type fileSender struct{ path string }

func (s fileSender) Send(ctx context.Context, m outreach.OutboundMessage) (string, error) {
	f, err := os.OpenFile(s.path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s\t%s\t%s\n", m.Key, m.To, m.Body); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	time.Sleep(time.Millisecond) // a provider takes a while to answer
	return "SM" + m.Key.String(), nil
}

func (s fileSender) Lookup(ctx context.Context, m outreach.OutboundMessage, _ time.Time) (string, bool, error) {
	lines, err := readLines(s.path)
	if err != nil {
		return "", false, err
	}
	for _, l := range lines {
		f := strings.SplitN(l, "\t", 3)
		if len(f) == 3 && f[1] == m.To && f[2] == m.Body {
			return "SM" + f[0], true, nil
		}
	}
	return "", false, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

const killRecipients, killSends = 60, 4

// TestKillChild is the runner process of TestKill9: it runs (or resumes)
// one campaign on the SQLite file it is given until the campaign is done.
func TestKillChild(t *testing.T) {
	dbPath, logPath := os.Getenv("OUTREACH_KILL_DB"), os.Getenv("OUTREACH_KILL_LOG")
	if dbPath == "" {
		t.Skip("run by TestKill9")
	}
	ctx := context.Background()
	db, err := sqlitestore.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// TestKill9 passes each child the campaign time it has reached in
	// OUTREACH_TEST_START, so that leases written by a killed child keep
	// their meaning and time never runs backwards.
	r := outreach.NewRunner(db, fileSender{logPath}, outreach.RunnerOptions{
		From: from, NoThrottle: true, Window: outreach.AnyHour, Clock: clocktest.Real(t),
		BatchSize: 10, PollInterval: 10 * time.Millisecond, ReconcileGrace: 50 * time.Millisecond, Logger: quiet,
		// A killed process holds its leases until they expire; a lease is
		// at least four send timeouts long.
		Lease: time.Second, SendTimeout: 250 * time.Millisecond,
	})
	list, err := db.Campaigns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if len(list) == 0 {
		c, _, err := r.CreateCampaign(ctx, outreach.NewCampaign{Name: "kill", Flow: oneWay(killSends)}, benchRecipients(killRecipients))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.StartCampaign(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		id = c.ID
	} else {
		id = list[0].ID
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := db.Campaign(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == outreach.CampaignDone {
			return
		}
	}
	t.Fatal("campaign not done within a minute")
}

// TestKill9 kills the runner's process with SIGKILL several times in the
// middle of a campaign, then lets it finish: every message reached the
// provider exactly once.
func TestKill9(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "provider.log")
	// One campaign clock for all the children: each starts where the
	// clock is when it starts.
	clock := clocktest.Real(t)
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "OUTREACH_KILL_DB="+filepath.Join(dir, "kill.db"), "OUTREACH_KILL_LOG="+logPath,
			clocktest.EnvStart+"="+clock.Now().Format(time.RFC3339Nano))
		return cmd
	}
	total := killRecipients * killSends
	kills := 0
	for _, at := range []int{total / 6, total / 3, total / 2, 2 * total / 3} {
		cmd := child()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
	wait:
		for {
			select {
			case err := <-exited:
				t.Fatalf("the runner finished before it was killed (%v): the test proves nothing; slow its sender down", err)
			case <-time.After(2 * time.Millisecond):
				if lines, _ := readLines(logPath); len(lines) >= at {
					break wait
				}
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited
		kills++
	}
	cmd := child()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	lines, err := readLines(logPath)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, l := range lines {
		key, _, _ := strings.Cut(l, "\t")
		count[key]++
	}
	for k, n := range count {
		if n != 1 {
			t.Errorf("key %s reached the provider %d times, want 1", k, n)
		}
	}
	if len(count) != total {
		t.Errorf("%d distinct messages reached the provider, want %d", len(count), total)
	}
	t.Logf("killed the runner %d times; %d messages, each once", kills, len(count))
}
