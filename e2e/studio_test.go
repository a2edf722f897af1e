package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/studio/studiotest"
)

// studioWorker is a process of TestStudioProcesses: the Studio runtime
// on the test's store, against the fake Twilio of the test process,
// until its standard input closes (or it is killed). runners is
// OUTREACH_E2E_OPTIONS: "lease _ reconcileGrace batch poll".
func studioWorker(ctx context.Context, store *childStore, clock outreach.Clock, tw []string, runners string) error {
	if len(tw) != 3 {
		return fmt.Errorf("bad %s %q", envTwilio, strings.Join(tw, " "))
	}
	hc, err := fakeClient(tw[0])
	if err != nil {
		return err
	}
	dep, err := studio.NewDeployer(studio.DeployConfig{AccountSID: tw[1], AuthToken: tw[2], HTTPClient: hc, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	cfg := studio.RuntimeConfig{
		Deployer: dep, From: multiNumbers[0], Window: outreach.AnyHour, Clock: clock,
		WakeInterval: 50 * time.Millisecond,
		// Info: the creations, adoptions and reconciliations, by SID.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if f := strings.Fields(runners); len(f) == 5 {
		cfg.Lease, _ = time.ParseDuration(f[0])
		cfg.ReconcileGrace, _ = time.ParseDuration(f[2])
		cfg.BatchSize, _ = strconv.Atoi(f[3])
		cfg.PollInterval, _ = time.ParseDuration(f[4])
	}
	rt, err := studio.NewRuntime(store, cfg)
	if err != nil {
		return err
	}
	if store.listen != nil {
		go func() { _ = store.listen(ctx, rt.Wake) }()
	}
	if err := rt.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// TestStudioProcesses runs one two-way campaign of 300 recipients in the
// Studio runtime by three worker processes on one database (Postgres,
// and SQLite), against the fake Twilio's Studio (the studiotest
// interpreter runs the executions; the patients answer), which allows
// Twilio's 20 execution creations per second and answers more with 429;
// a worker is killed with SIGKILL (and restarted) while executions are
// being created, and another while they are being collected. Every
// recipient gets exactly one execution (none created twice for a
// conversation), each step's message once; every execution's answer is
// collected once; every conversation ends, answered.
func TestStudioProcesses(t *testing.T) {
	skipProcesses(t)
	t.Run("postgres", func(t *testing.T) {
		_, u := pgtest.Schema(t)
		runStudioProcesses(t, "postgres:"+u, 3, 300)
	})
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "outreach.db")
		runStudioProcesses(t, "sqlite:"+path, 2, 200)
	})
}

func runStudioProcesses(t *testing.T, spec string, nworkers, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	store, err := openChildStore(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	clock := clocktest.Real(t)
	network := simphone.New(clock, 13)
	network.SetDefault(func(*rand.Rand) simphone.Persona {
		return simphone.Persona{Delay: 200 * time.Millisecond, Jitter: 800 * time.Millisecond}
	})
	from := multiNumbers[0]
	var (
		hookMu   sync.Mutex
		hookErrs []error
	)
	srv := twiliotest.New(twiliotest.Options{
		Clock: clock, Network: network, Numbers: []string{from}, Seed: 9, WebhookConcurrency: 16,
		Studio: studiotest.NewInterpreter(studiotest.InterpreterOptions{}), ExecutionsPerSecond: studio.MaxExecutionsPerSecond,
		OnWebhookError: func(err error) {
			hookMu.Lock()
			hookErrs = append(hookErrs, err)
			hookMu.Unlock()
		},
	})
	defer srv.Close()
	// 5% of the creations are processed and their answer lost (the
	// connection dropped): the runtime must find the execution rather
	// than create another. 20% are answered after half a second, so that
	// kills land in the middle of creations.
	srv.AddFault(twiliotest.CreateExecution, twiliotest.Fault{Hijack: true, Probability: 0.05})
	srv.AddFault(twiliotest.CreateExecution, twiliotest.Fault{Latency: 500 * time.Millisecond, Probability: 0.20})
	fakeDone := make(chan struct{})
	go func() {
		defer close(fakeDone)
		_ = srv.Run(ctx)
	}()
	defer func() { cancel(); <-fakeDone }()

	// The campaign, made by this process: the flow deployed to the
	// fake's Studio, the number pointed at it.
	dep, err := studio.NewDeployer(studio.DeployConfig{AccountSID: srv.AccountSID(), AuthToken: srv.AuthToken(), HTTPClient: srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := studio.NewRuntime(store, studio.RuntimeConfig{Deployer: dep, From: from, Window: outreach.AnyHour, Clock: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	recs := benchRecipients(n)
	c, _, err := admin.CreateCampaign(ctx, outreach.NewCampaign{Name: "studio processes", Flow: twoWay(), From: from}, recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}

	env := []string{
		envTwilio + "=" + srv.URL() + " " + srv.AccountSID() + " " + srv.AuthToken(),
		envStore + "=" + spec,
		// A killed worker's leases last 2s; an intent whose outcome is
		// unknown is looked for at the fake for 1s before creating again;
		// running executions are looked at every 200ms.
		envRunners + "=2s 0s 1s 20 200ms",
	}
	worker := func(i int) *child {
		return startChild(t, dir, fmt.Sprintf("studio%d", i), "studio-worker", append(env, envClock+"="+clockSpec(clock))...)
	}
	workers := make([]*child, nworkers)
	for i := range workers {
		workers[i] = worker(i)
	}
	start := time.Now()
	kills := 0
	kill := func(i int, when string) {
		workers[i].kill9(t)
		workers[i] = worker(i)
		kills++
		t.Logf("%v: worker %d killed with SIGKILL %s (%d executions at the fake), restarted", time.Since(start).Round(time.Millisecond), i, when, len(srv.Executions(c.RuntimeRef)))
	}
	wait := 2*time.Minute + time.Duration(n)*100*time.Millisecond
	deadline := time.Now().Add(wait)
	killedCreating, killedCollecting := 0, false
	rnd := rand.New(rand.NewPCG(uint64(n), 7))
	for {
		got, err := store.Campaign(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == outreach.CampaignDone {
			break
		}
		if time.Now().After(deadline) {
			p, err := store.Progress(ctx, c.ID, clock.Now())
			t.Fatalf("the campaign did not finish within %v: %+v, %v; %d executions at the fake; logs in %s", wait, p, err, len(srv.Executions(c.RuntimeRef)), dir)
		}
		if killedCreating < 3 && len(srv.Executions(c.RuntimeRef)) >= (killedCreating+1)*n/4 {
			killedCreating++
			kill(rnd.IntN(nworkers), "while executions are created")
		}
		if killedCreating > 0 && !killedCollecting {
			if p, err := store.Progress(ctx, c.ID, clock.Now()); err == nil && p.Done >= n/2 {
				killedCollecting = true
				kill(rnd.IntN(nworkers), "while executions are collected")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	for _, w := range workers {
		select {
		case <-w.exited:
			t.Errorf("%s exited on its own during the campaign (%v)", w.name, w.err)
		default:
		}
	}
	for _, w := range workers {
		w.stop(t)
	}
	cancel()
	<-fakeDone
	if kills < 4 {
		t.Errorf("%d workers killed; want 4", kills)
	}

	// At the fake: one execution per recipient, each for its own
	// conversation, all ended; each step's message once.
	execs := srv.Executions(c.RuntimeRef)
	perPhone := map[string][]twiliotest.Execution{}
	for _, e := range execs {
		perPhone[e.ContactChannelAddress] = append(perPhone[e.ContactChannelAddress], e)
	}
	convs := allConversations(t, store, c.ID)
	byPhone := map[string]outreach.Conversation{}
	for _, cv := range convs {
		byPhone[cv.Recipient.Phone] = cv
	}
	var duplicates, lost, notEnded, badOutcome, collectedTwice, notCollected int
	shown := 0
	show := func(format string, args ...any) {
		if shown < 10 {
			shown++
			t.Errorf(format, args...)
		}
	}
	for _, r := range recs {
		es := perPhone[r.Phone]
		cv := byPhone[r.Phone]
		switch {
		case len(es) == 0:
			lost++
			show("recipient %s has no execution", r.ID)
		case len(es) > 1:
			duplicates += len(es) - 1
			show("recipient %s has %d executions", r.ID, len(es))
		}
		for _, e := range es {
			if e.Status != "ended" {
				notEnded++
				show("execution %s of %s is %s", e.SID, r.ID, e.Status)
			}
			if got := fmt.Sprint(e.Parameters[studio.ConversationParam]); got != strconv.FormatInt(cv.ID, 10) {
				show("execution %s of %s runs conversation %s, want %d", e.SID, r.ID, got, cv.ID)
			}
			if cv.State.Remote == nil || cv.State.Remote.ID != e.SID {
				show("conversation %d records execution %+v, the fake holds %s", cv.ID, cv.State.Remote, e.SID)
			}
		}
		if cv.Status != outreach.ConversationDone || cv.Outcome != "answered" {
			badOutcome++
			show("conversation %d of %s ended %s with outcome %q, want done and answered; it records %+v", cv.ID, r.ID, cv.Status, cv.Outcome, cv.State.Remote)
			for _, e := range es {
				var steps []string
				for _, st := range srv.ExecutionSteps(e.SID) {
					steps = append(steps, st.TransitionedFrom+" -"+st.Name+"-> "+st.TransitionedTo)
				}
				t.Logf("execution %s (created %v): run error %q, steps %v", e.SID, e.DateCreated, e.RunError, steps)
			}
		}
		// Collected once: the reply and the two messages Studio sent,
		// each once in the store.
		msgs, err := store.Messages(context.Background(), cv.ID)
		if err != nil {
			t.Fatal(err)
		}
		in, out := 0, 0
		for _, m := range msgs {
			if m.Direction == outreach.Inbound {
				in++
			} else {
				out++
			}
		}
		switch {
		case in == 0 || out == 0:
			notCollected++
			show("conversation %d holds %d inbound and %d outbound messages, want 1 and 2", cv.ID, in, out)
		case in > 1 || out > 2:
			collectedTwice++
			show("conversation %d holds %d inbound and %d outbound messages, want 1 and 2", cv.ID, in, out)
		}
	}
	sent := map[string]int{}
	outbound := 0
	for _, m := range srv.Messages() {
		if !strings.HasPrefix(m.Direction, "outbound") {
			continue
		}
		outbound++
		step := "other"
		switch {
		case strings.HasPrefix(m.Body, askWords):
			step = "ask"
		case strings.HasPrefix(m.Body, endWords):
			step = "end"
		}
		sent[m.To+" "+step]++
	}
	for _, r := range recs {
		for _, step := range []string{"ask", "end"} {
			if k := sent[r.Phone+" "+step]; k != 1 {
				show("recipient %s got %d messages of step %s, want 1", r.ID, k, step)
			}
		}
	}
	resps, err := store.Responses(context.Background(), c.ID, outreach.ResponsePage{Limit: 10 * n})
	if err != nil {
		t.Fatal(err)
	}
	perConv := map[int64]int{}
	for _, r := range resps {
		if r.Raw != "" {
			perConv[r.ConversationID]++
		}
	}
	for _, cv := range convs {
		if perConv[cv.ID] != 1 {
			show("conversation %d has %d answers in the responses, want 1", cv.ID, perConv[cv.ID])
		}
	}

	// What the workers logged (all their lives), by level and message.
	logs, _ := filepath.Glob(filepath.Join(dir, "studio*.log"))
	records := map[string]int{}
	// Conversations whose execution a worker found at the fake after its
	// intent, and those whose create's answer a worker saw lost: the
	// others found were created by a worker killed (or whose lease
	// lapsed) before it recorded the SID.
	reconciled, unknown := map[string]bool{}, map[string]bool{}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, line := range strings.Split(string(b), "\n") {
			if _, conv, ok := strings.Cut(line, " conversation="); ok {
				conv, _, _ = strings.Cut(conv, " ")
				switch {
				case strings.Contains(line, `msg="studio execution reconciled"`), strings.Contains(line, `msg="studio execution adopted after conflict"`):
					reconciled[conv] = true
				case strings.Contains(line, "outcome unknown"):
					unknown[conv] = true
				}
			}
			_, rest, ok := strings.Cut(line, "level=")
			if !ok {
				continue
			}
			lvl, rest, _ := strings.Cut(rest, " ")
			if lvl == "ERROR" || strings.Contains(rest, "refused") {
				t.Logf("%s: %s", filepath.Base(l), line)
			}
			if _, m, ok := strings.Cut(rest, "msg="); ok {
				if q, err := strconv.QuotedPrefix(m); err == nil {
					m, _ = strconv.Unquote(q)
				} else {
					m, _, _ = strings.Cut(m, " ")
				}
				rest = m
			}
			records[lvl+" "+rest]++
		}
	}
	faults := srv.FaultCounts(twiliotest.CreateExecution)
	hookMu.Lock()
	nhook := len(hookErrs)
	hookMu.Unlock()
	t.Logf("%d recipients, %d executions (%d create requests; faults: %d answers dropped, %d answered late; the fake's 429s beside), %d messages sent at the fake; duplicates %d, lost %d, executions not ended %d, conversations not answered %d, not collected %d, collected twice %d; %d kills; webhook errors %d; in %v",
		n, len(execs), srv.Requests(twiliotest.CreateExecution), faults[0], faults[1], outbound,
		duplicates, lost, notEnded, badOutcome, notCollected, collectedTwice, kills, nhook, elapsed.Round(time.Millisecond))
	t.Logf("worker log records: %v", records)
	orphans := 0
	for conv := range reconciled {
		if !unknown[conv] {
			orphans++
		}
	}
	t.Logf("%d executions found by a worker other than the one that created them (killed, or its lease lapsed, before recording the SID)", orphans)
	hookMu.Lock()
	for _, err := range hookErrs[:min(len(hookErrs), 5)] {
		t.Logf("webhook error: %v", err)
	}
	hookMu.Unlock()
	if len(execs) != n {
		t.Errorf("%d executions at the fake; want %d", len(execs), n)
	}
}
