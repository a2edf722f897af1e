package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// multiNumbers are the sending numbers of the multi-process tests: one
// campaign each, throttled each on its own.
var multiNumbers = []string{"+15005550006", "+15005550007", "+15005550008", "+15005550009"}

// The two-way flow of the multi-process tests: a question any text
// answers, then a closing message. Each step's body starts with its own
// words, so the fake can count the messages of each step.
const (
	askWords = "How are you feeling today"
	endWords = "Thank you"
)

func twoWay() *outreach.Flow {
	return &outreach.Flow{ID: "multi", Steps: []outreach.Step{
		{ID: "ask", Kind: outreach.StepAsk, Body: askWords + ", {{recipient.first_name}}? Reply in a few words.",
			Answer: &outreach.AnswerSpec{Kind: outreach.AnswerText}, Next: "end"},
		{ID: "end", Kind: outreach.StepEnd, Body: endWords + ", {{recipient.first_name}}. Your care team will read it today.", Outcome: "answered"},
	}}
}

// scenario is one run of a campaign by worker and web processes around
// one fake Twilio in the test process.
type scenario struct {
	store      string // "postgres" or "sqlite"
	workers    int
	webs       int
	numbers    int  // sending numbers, one campaign each
	recipients int  // in all
	limit      int  // messages per sending number within any one second, kept by the shared limiter
	faults     bool // 10% 429, 5% 500, 2% dropped after accepting
	kills      int  // at least this many SIGKILLs of a random worker, each restarted
	terminate  int  // times the workers' Postgres backends are terminated
	// pgBase, when set, is the database (its URL) the scenario makes its
	// schema in, instead of OUTREACH_TEST_POSTGRES's.
	pgBase string
	// restart, when set, is a shell command that restarts the server of
	// pgBase: it is run once, when a third of the messages are sent.
	restart string
}

// outcome is what a scenario counted at the fake and in the store.
type outcome struct {
	sent       int // outbound messages the fake accepted
	duplicates int // messages beyond one per recipient and step
	lost       int // recipients missing a step, or conversations not done
	maxWindow  int // most messages of one number within one second
	kills      int
	terminated int // backends terminated
	faults     []int
	hookErrors int
	elapsed    time.Duration
	stats      []string
	logs       map[string]int // the workers' log records, by level and message

	// Of a restart of the server: the messages the fake had accepted
	// when it began, the time the server refused connections (seen by a
	// probe connecting every 10ms), the messages accepted while it was
	// down, and the time from it answering again to the next message
	// accepted.
	restartAt    int
	downtime     time.Duration
	sentWhenDown int
	resumedAfter time.Duration
}

func (o outcome) String() string {
	return fmt.Sprintf("sent %d, duplicates %d, lost %d, max per number per second %d, kills %d, backends terminated %d, faults (429, 500, dropped) %v, webhook errors %d, in %v",
		o.sent, o.duplicates, o.lost, o.maxWindow, o.kills, o.terminated, o.faults, o.hookErrors, o.elapsed.Round(time.Millisecond))
}

func runScenario(t *testing.T, sc scenario) outcome {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()

	var (
		spec, workerSpec string
		store            outreach.Store
		pg               *pgstore.Store
		app              string // application_name of the workers' connections
	)
	switch sc.store {
	case "postgres":
		if sc.pgBase != "" {
			t.Setenv(pgtest.EnvURL, sc.pgBase)
		}
		name, u := pgtest.Schema(t)
		s, err := pgstore.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		spec, store, pg = "postgres:"+u, s, s
		// The workers name their connections, so that terminating them
		// touches no one else's on a shared server.
		app = "e2e-worker-" + name
		workerSpec = spec + "&application_name=" + app
	case "sqlite":
		path := filepath.Join(dir, "outreach.db")
		s, err := sqlitestore.OpenOptions(ctx, path, sqlitestore.Options{Synchronous: "NORMAL"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		spec, store = "sqlite:"+path, s
		workerSpec = spec
	}

	clock := clocktest.Real(t)
	network := simphone.New(clock, 11)
	network.SetDefault(func(*rand.Rand) simphone.Persona {
		return simphone.Persona{Delay: 200 * time.Millisecond, Jitter: 800 * time.Millisecond}
	})
	var (
		hookMu   sync.Mutex
		hookErrs []error
	)
	numbers := multiNumbers[:sc.numbers]
	srv := twiliotest.New(twiliotest.Options{
		Clock: clock, Network: network, Numbers: numbers, Seed: 5, WebhookConcurrency: 16,
		OnWebhookError: func(err error) {
			hookMu.Lock()
			hookErrs = append(hookErrs, err)
			hookMu.Unlock()
		},
	})
	defer srv.Close()
	if sc.faults {
		srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Status: 429, Probability: 0.10})
		srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Status: 500, Probability: 0.05})
		srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Hijack: true, Probability: 0.02})
	}
	fakeDone := make(chan struct{})
	go func() {
		defer close(fakeDone)
		_ = srv.Run(ctx)
	}()
	defer func() { cancel(); <-fakeDone }()

	env := []string{
		envTwilio + "=" + srv.URL() + " " + srv.AccountSID() + " " + srv.AuthToken(),
		// A burst of a tenth of a second's worth lets one claim send
		// several messages of a number; rate + burst - 1 is the limit.
		envRate + "=" + fmt.Sprint(sc.limit-burst(sc.limit)+1, burst(sc.limit)),
		// A killed worker's leases last 2s; sends not confirmed after 1s
		// are looked up at the fake.
		envRunners + "=2s 500ms 1s 50 100ms",
	}
	webs := make([]*child, sc.webs)
	for i := range webs {
		webs[i] = startChild(t, dir, fmt.Sprintf("web%d", i), "web", append(env, envStore+"="+spec, envClock+"="+clockSpec(clock))...)
	}
	for i, n := range numbers {
		srv.SetSmsURL(n, webs[i%len(webs)].url()+"/sms")
	}
	worker := func(i int) *child {
		return startChild(t, dir, fmt.Sprintf("worker%d", i), "worker", append(env, envStore+"="+workerSpec,
			envClock+"="+clockSpec(clock), envStatus+"="+webs[i%len(webs)].url()+"/status")...)
	}

	// The campaigns, one per number, made by this process.
	admin := outreach.NewRunner(store, nullSender{}, outreach.RunnerOptions{Clock: clock, Window: outreach.AnyHour, NoThrottle: true, Logger: quiet})
	recs := benchRecipients(sc.recipients)
	var ids []int64
	per := (len(recs) + len(numbers) - 1) / len(numbers)
	for i, n := range numbers {
		part := recs[min(i*per, len(recs)):min((i+1)*per, len(recs))]
		c, _, err := admin.CreateCampaign(ctx, outreach.NewCampaign{Name: fmt.Sprintf("multi %d", i), Flow: twoWay(), From: n}, part)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	workers := make([]*child, sc.workers)
	for i := range workers {
		workers[i] = worker(i)
	}
	start := time.Now()
	for _, id := range ids {
		if err := admin.StartCampaign(ctx, id); err != nil {
			t.Fatal(err)
		}
	}

	var out outcome
	rnd := rand.New(rand.NewPCG(uint64(sc.recipients), 3))
	nextKill := time.Now().Add(killGap(rnd))
	nextTerm := time.Now().Add(time.Second)
	rounds := 0
	restarted := false
	// Generous: a loaded machine is slow, and a stuck run is told apart
	// from a slow one by the progress logged at the deadline.
	wait := 2*time.Minute + time.Duration(sc.recipients)*20*time.Millisecond
	deadline := time.Now().Add(wait)
	lastLog := time.Now()
	for {
		if time.Now().After(deadline) {
			for _, id := range ids {
				p, err := store.Progress(ctx, id, clock.Now())
				t.Logf("campaign %d: %+v, %v", id, p, err)
			}
			dirs := map[string]int{}
			for _, m := range srv.Messages() {
				dirs[m.Direction+" "+m.Status]++
			}
			t.Logf("the fake holds %v", dirs)
			t.Fatalf("the campaigns did not finish within %v", wait)
		}
		done := true
		for _, id := range ids {
			c, err := store.Campaign(ctx, id)
			if err != nil && sc.restart != "" {
				// The server restarted: this process's pool finds its
				// connections closed, one query each.
				done = false
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != outreach.CampaignDone {
				done = false
			}
		}
		if done {
			break
		}
		if sc.restart != "" && !restarted && rounds >= min(sc.terminate, 2) && outbound(srv) >= 2*sc.recipients/3 {
			restarted = true
			restartServer(t, sc.restart, sc.pgBase, srv, &out)
			// The connections of this process's pool are gone.
			pg.Pool().Reset()
		}
		if debugProgress && time.Since(lastLog) > time.Second {
			lastLog = time.Now()
			dirs := map[string]int{}
			for _, m := range srv.Messages() {
				dirs[m.Direction]++
			}
			var prog []string
			for _, id := range ids {
				p, _ := store.Progress(ctx, id, clock.Now())
				prog = append(prog, fmt.Sprintf("%s done %d msgs %v", p.Status, p.Done, p.Messages))
			}
			t.Logf("%v: fake holds %v; campaigns: %v", time.Since(start).Round(time.Millisecond), dirs, prog)
		}
		if out.kills < sc.kills && time.Now().After(nextKill) {
			i := rnd.IntN(len(workers))
			workers[i].kill9(t)
			workers[i] = worker(i)
			out.kills++
			nextKill = time.Now().Add(killGap(rnd))
		}
		if rounds < sc.terminate && time.Now().After(nextTerm) {
			var n int
			err := pg.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, app).Scan(&n)
			switch {
			case err != nil && sc.restart != "":
				// The server restarted: try again soon.
				nextTerm = time.Now().Add(100 * time.Millisecond)
			case err != nil:
				t.Fatal(err)
			default:
				rounds++
				out.terminated += n
				nextTerm = time.Now().Add(time.Second + time.Duration(rnd.IntN(1000))*time.Millisecond)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rounds < sc.terminate {
		t.Errorf("the campaign ended after %d rounds of terminating backends; want %d", rounds, sc.terminate)
	}
	if sc.restart != "" && !restarted {
		t.Errorf("the campaign ended before the server was restarted")
	}
	out.elapsed = time.Since(start)
	// Every process the test did not kill is still running: none gave
	// up on a fault.
	for _, c := range append(slices.Clip(workers), webs...) {
		select {
		case <-c.exited:
			t.Errorf("%s exited on its own during the campaign (%v); see %s", c.name, c.err, filepath.Join(dir, c.name+".log"))
		default:
		}
	}
	for _, w := range workers {
		w.stop(t)
		out.stats = append(out.stats, w.stats())
	}
	var workerCPU, webCPU time.Duration
	for _, w := range workers {
		workerCPU += w.cpu()
	}
	// The fake stops before the web processes, so that a webhook error
	// is one of the run, not of the end.
	cancel()
	<-fakeDone
	for _, w := range webs {
		w.stop(t)
		webCPU += w.cpu()
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t.Logf("CPU time: workers (last lives) %v, web processes %v, this process (fake Twilio and checks, whole test binary so far) %v",
		workerCPU.Round(time.Millisecond), webCPU.Round(time.Millisecond),
		(time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())).Round(time.Millisecond))
	if sc.kills > 0 && out.kills < sc.kills {
		t.Errorf("the campaign ended after %d kills; want at least %d (the test proves less: slow it down)", out.kills, sc.kills)
	}

	// Count at the fake: one message per recipient and step.
	steps := map[string]map[string]int{} // To -> step -> count
	byNumber := map[string][]time.Time{}
	for _, m := range srv.Messages() {
		if m.Direction != "outbound-api" {
			continue
		}
		out.sent++
		step := "other"
		switch {
		case strings.HasPrefix(m.Body, askWords):
			step = "ask"
		case strings.HasPrefix(m.Body, endWords):
			step = "end"
		}
		if steps[m.To] == nil {
			steps[m.To] = map[string]int{}
		}
		steps[m.To][step]++
		byNumber[m.From] = append(byNumber[m.From], m.DateCreated)
	}
	shown := 0
	for _, r := range recs {
		for _, step := range []string{"ask", "end"} {
			n := steps[r.Phone][step]
			switch {
			case n == 0:
				out.lost++
			case n > 1:
				out.duplicates += n - 1
			}
			if n != 1 && shown < 10 {
				shown++
				t.Errorf("recipient %s got %d messages of step %s, want 1", r.ID, n, step)
			}
		}
		if n := steps[r.Phone]["other"]; n > 0 && shown < 10 {
			shown++
			t.Errorf("recipient %s got %d messages of no step", r.ID, n)
		}
	}
	for _, id := range ids {
		for _, c := range allConversations(t, store, id) {
			if c.Status != outreach.ConversationDone || c.Outcome != "answered" {
				out.lost++
				if shown < 10 {
					shown++
					t.Errorf("conversation %d ended %s with outcome %q, want done and answered", c.ID, c.Status, c.Outcome)
				}
			}
		}
	}
	for _, times := range byNumber {
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		for i := range times {
			j, _ := slices.BinarySearchFunc(times, times[i].Add(time.Second), func(a, b time.Time) int { return a.Compare(b) })
			out.maxWindow = max(out.maxWindow, j-i)
		}
	}
	if sc.faults {
		out.faults = srv.FaultCounts(twiliotest.CreateMessage)
	}
	hookMu.Lock()
	out.hookErrors = len(hookErrs)
	for _, err := range hookErrs[:min(len(hookErrs), 5)] {
		t.Logf("webhook error: %v", err)
	}
	hookMu.Unlock()
	if out.duplicates != 0 || out.lost != 0 {
		t.Errorf("%d duplicates and %d lost; want none; logs in %s", out.duplicates, out.lost, dir)
	}
	if out.sent != 2*sc.recipients+out.duplicates {
		t.Errorf("the fake accepted %d messages; want %d", out.sent, 2*sc.recipients)
	}
	// A crash restart empties the limiter's table (UNLOGGED: crash
	// recovery truncates it), so the limiter forgets the sends of the
	// second before it: in the second around the restart a number may
	// send up to a burst more than its limit (the sends before, at most
	// limit - burst + 1 + burst - 1 in part of the second, and a full
	// burst after). No other fault lets it.
	maxWindow := sc.limit
	if sc.restart != "" {
		maxWindow += burst(sc.limit)
	}
	if out.maxWindow > maxWindow {
		t.Errorf("one number sent %d messages within one second at the fake; the limit is %d (%d with the restart's slack)", out.maxWindow, sc.limit, maxWindow)
	}
	t.Logf("%s", out)
	// What the workers logged (all their lives), by level and message.
	logs, _ := filepath.Glob(filepath.Join(dir, "worker*.log"))
	records := map[string]int{}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, line := range strings.Split(string(b), "\n") {
			_, rest, ok := strings.Cut(line, "level=")
			if !ok {
				continue
			}
			lvl, rest, _ := strings.Cut(rest, " ")
			msg := rest
			if _, m, ok := strings.Cut(rest, "msg="); ok {
				if strings.HasPrefix(m, `"`) {
					if q, err := strconv.QuotedPrefix(m); err == nil {
						m, _ = strconv.Unquote(q)
					}
				} else {
					m, _, _ = strings.Cut(m, " ")
				}
				msg = m
			}
			records[lvl+" "+msg]++
		}
	}
	t.Logf("worker log records: %v", records)
	out.logs = records
	for i, s := range out.stats {
		t.Logf("worker %d (last life): %s", i, s)
	}
	return out
}

const debugProgress = false

// burst is the shared limiter's burst for a limit per second.
func burst(limit int) int { return max(1, limit/10) }

// killGap is the time until the next SIGKILL: 100 to 400 ms.
func killGap(rnd *rand.Rand) time.Duration {
	return 100*time.Millisecond + time.Duration(rnd.IntN(300))*time.Millisecond
}

// outbound is how many outbound messages the fake has accepted.
func outbound(srv *twiliotest.Server) int {
	n := 0
	for _, m := range srv.Messages() {
		if m.Direction == "outbound-api" {
			n++
		}
	}
	return n
}

// restartServer runs the shell command restart, which restarts the
// Postgres server of base, and measures what the campaign saw: a probe
// connects to base every 10ms from before the command until it answers
// again after a refusal, and the fake then accepts a message.
func restartServer(t *testing.T, restart, base string, srv *twiliotest.Server, out *outcome) {
	t.Helper()
	probe := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return false
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "SELECT 1")
		return err == nil
	}
	type span struct {
		down, up, resumed time.Time
		sentDown, sentUp  int // messages at the fake at down and up
	}
	seen := make(chan span, 1)
	stop := make(chan struct{})
	go func() {
		var sp span
		for {
			ok := probe()
			now := time.Now()
			switch {
			case !ok && sp.down.IsZero():
				sp.down, sp.sentDown = now, outbound(srv)
			case ok && !sp.down.IsZero() && sp.up.IsZero():
				sp.up, sp.sentUp = now, outbound(srv)
			}
			if !sp.up.IsZero() && outbound(srv) > sp.sentUp {
				sp.resumed = time.Now()
				seen <- sp
				return
			}
			select {
			case <-stop:
				seen <- sp
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	began := time.Now()
	cmd := exec.Command("sh", "-c", restart)
	b, err := cmd.CombinedOutput()
	if err != nil {
		close(stop)
		t.Fatalf("restart the server (%s): %v: %s", restart, err, b)
	}
	t.Logf("the server restarted by %q in %v", restart, time.Since(began).Round(time.Millisecond))
	var sp span
	select {
	case sp = <-seen:
	case <-time.After(30 * time.Second):
		close(stop)
		sp = <-seen
	}
	if sp.down.IsZero() || sp.up.IsZero() {
		t.Fatalf("the probe did not see the server go down and come back (%+v)", sp)
	}
	if !sp.resumed.IsZero() {
		out.resumedAfter = sp.resumed.Sub(sp.up)
	}
	out.downtime = sp.up.Sub(sp.down)
	out.restartAt, out.sentWhenDown = sp.sentDown, sp.sentUp-sp.sentDown
}

// TestManyProcesses runs one two-way campaign per sending number with four
// worker processes and two web processes on one Postgres database, around
// one fake Twilio with 10% 429s, 5% 500s and 2% connections dropped after
// the message was accepted: every recipient gets each step's message
// exactly once, every conversation ends, and no number sends more than
// its limit within any one second at the fake.
func TestManyProcesses(t *testing.T) {
	skipProcesses(t)
	pgtest.BaseURL(t)
	sc := scenario{store: "postgres", workers: 4, webs: 2, numbers: 4, recipients: 10000, limit: 500, faults: true}
	if testing.Short() {
		sc.recipients, sc.limit = 1000, 50
	}
	runScenario(t, sc)
}

// TestKill9Processes kills a random worker with SIGKILL at random moments
// (at least 10 times, each restarted at once) during a two-way campaign
// with provider faults, on SQLite and on Postgres: no message is sent
// twice, no conversation is lost.
func TestKill9Processes(t *testing.T) {
	skipProcesses(t)
	t.Run("sqlite", func(t *testing.T) {
		runScenario(t, scenario{store: "sqlite", workers: 2, webs: 1, numbers: 2, recipients: 400, limit: 100, faults: true, kills: 10})
	})
	t.Run("postgres", func(t *testing.T) {
		pgtest.BaseURL(t)
		runScenario(t, scenario{store: "postgres", workers: 4, webs: 2, numbers: 4, recipients: 600, limit: 100, faults: true, kills: 10})
	})
}

// TestPostgresBackendsTerminated terminates the worker processes'
// Postgres connections (pg_terminate_backend) several times during a
// two-way campaign with provider faults: the workers log, retry and carry
// on; nothing is lost, nothing sent twice.
func TestPostgresBackendsTerminated(t *testing.T) {
	skipProcesses(t)
	pgtest.BaseURL(t)
	runScenario(t, scenario{store: "postgres", workers: 4, webs: 2, numbers: 4, recipients: 600, limit: 100, faults: true, terminate: 4})
}

// Environment variables of TestPostgresRestarted: a Postgres database on
// a server of the test's own, and a shell command that restarts that
// server. .ci/run makes one (a second cluster, on port 5433) and sets
// them; the shared server of OUTREACH_TEST_POSTGRES is never restarted,
// since other packages' tests use it at the same time.
const (
	envRestartURL = "OUTREACH_TEST_POSTGRES_RESTART"
	envRestartCmd = "OUTREACH_TEST_POSTGRES_RESTART_CMD"
)

// TestPostgresRestarted restarts the Postgres server once in the middle
// of a two-way campaign run by four worker and two web processes (in
// CI a crash restart, pg_ctlcluster -m immediate: every connection
// dropped, the UNLOGGED rate_limits table emptied), around backends of
// the workers terminated a few times, with provider faults: every
// process logs, retries and carries on; each recipient gets each step's
// message once, every conversation ends.
func TestPostgresRestarted(t *testing.T) {
	skipProcesses(t)
	base, restart := os.Getenv(envRestartURL), os.Getenv(envRestartCmd)
	if base == "" || restart == "" {
		t.Skipf("%s and %s are not set: skipping the restart of a Postgres server of the test's own", envRestartURL, envRestartCmd)
	}
	out := runScenario(t, scenario{store: "postgres", workers: 4, webs: 2, numbers: 4, recipients: 1200, limit: 100, faults: true, terminate: 3,
		pgBase: base, restart: restart})
	t.Logf("restart: %d messages at the fake before it, %d while the server was down (in flight), server refused connections for %v, next message accepted %v after it answered again",
		out.restartAt, out.sentWhenDown, out.downtime.Round(time.Millisecond), out.resumedAfter.Round(time.Millisecond))
	if out.resumedAfter == 0 {
		t.Errorf("no message was sent after the restart")
	}
	errs := 0
	for rec, n := range out.logs {
		if strings.HasPrefix(rec, "ERROR ") || strings.HasPrefix(rec, "WARN ") {
			errs += n
		}
	}
	if errs == 0 {
		t.Errorf("the workers logged no error or warning across the restart; want the faults logged")
	}
}

// skipProcesses skips the tests that start processes under the race
// detector, where they are too slow for CI's budget: CI runs them in a
// step without -race. (With -short they run, smaller.)
func skipProcesses(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("starts processes and sends thousands of messages: too slow under -race; run without -race")
	}
}
