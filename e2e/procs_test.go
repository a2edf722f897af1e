package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/twiliosms"
)

// The processes of the multi-process tests are this test binary run
// again with -test.run=^TestProcessChild$ and these variables: the role
// ("worker", "web" or "studio-worker") and what it needs.
const (
	envRole    = "OUTREACH_E2E_ROLE"
	envStore   = "OUTREACH_E2E_STORE"   // "postgres:" + URL or "sqlite:" + path
	envTwilio  = "OUTREACH_E2E_TWILIO"  // the fake's base URL, account SID, auth token: "url sid token"
	envStatus  = "OUTREACH_E2E_STATUS"  // a worker's status callback URL
	envClock   = "OUTREACH_E2E_CLOCK"   // "instant wallUnixNano": the campaign clock read instant at wallUnixNano
	envRate    = "OUTREACH_E2E_RATE"    // "perSecond burst" of the shared limiter; empty means no throttle
	envNull    = "OUTREACH_E2E_NULL"    // a worker sends through a sender that does nothing: "0s", or a Go duration each send takes
	envRunners = "OUTREACH_E2E_OPTIONS" // "lease sendTimeout reconcileGrace batch poll", Go durations and ints
)

// childStore opens the store named by OUTREACH_E2E_STORE, with its shared
// limiter and, for Postgres, its listener.
type childStore struct {
	outreach.Store
	limiter func(perSecond float64, burst int) outreach.Limiter
	listen  func(ctx context.Context, wake func()) error
}

func openChildStore(ctx context.Context, spec string) (*childStore, error) {
	kind, dsn, _ := strings.Cut(spec, ":")
	switch kind {
	case "postgres":
		s, err := pgstore.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		return &childStore{Store: s, limiter: func(r float64, b int) outreach.Limiter { return s.Limiter(r, b) }, listen: s.Listen}, nil
	case "sqlite":
		// NORMAL: a killed process loses nothing in WAL mode; power loss
		// is not under test.
		s, err := sqlitestore.OpenOptions(ctx, dsn, sqlitestore.Options{Synchronous: "NORMAL"})
		if err != nil {
			return nil, err
		}
		return &childStore{Store: s, limiter: func(r float64, b int) outreach.Limiter { return s.Limiter(r, b) }}, nil
	}
	return nil, fmt.Errorf("unknown store %q", spec)
}

func (s *childStore) Close() error {
	if c, ok := s.Store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// sharedClock is the campaign clock of every process of a test: real time
// from the instant the test's clock (which starts at clocktest.Start) read
// at a given moment, so that all the processes agree to the
// microsecond and the leases, intents and rate windows they write keep
// their meaning across processes and restarts.
func sharedClock(spec string) (*outreach.OffsetClock, error) {
	inst, wall, ok := strings.Cut(spec, " ")
	if !ok {
		return nil, fmt.Errorf("bad %s %q", envClock, spec)
	}
	at, err := time.Parse(time.RFC3339Nano, inst)
	if err != nil {
		return nil, err
	}
	ns, err := strconv.ParseInt(wall, 10, 64)
	if err != nil {
		return nil, err
	}
	return outreach.NewOffsetClock(at.Add(time.Since(time.Unix(0, ns)))), nil
}

// clockSpec is the OUTREACH_E2E_CLOCK value for clock, read now.
func clockSpec(clock outreach.Clock) string {
	wall := time.Now()
	return clock.Now().Format(time.RFC3339Nano) + " " + strconv.FormatInt(wall.UnixNano(), 10)
}

// fakeClient is an http.Client that sends every request to the fake
// Twilio at base, as twiliotest.Server.HTTPClient does in its own process.
func fakeClient(base string) (*http.Client, error) {
	host := strings.TrimPrefix(base, "http://")
	if _, _, err := net.SplitHostPort(host); err != nil {
		return nil, fmt.Errorf("fake Twilio URL %q: %w", base, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: rewrite{host: host, base: tr}}, nil
}

type rewrite struct {
	host string
	base http.RoundTripper
}

func (t rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = "http", t.host, ""
	return t.base.RoundTrip(r)
}

// nullSender accepts every message at once and remembers nothing: the
// dispatch throughput of the runner and the store alone.
type nullSender struct{ delay time.Duration }

func (s nullSender) Send(_ context.Context, m outreach.OutboundMessage) (string, error) {
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	return "SM" + m.Key.String(), nil
}

func (nullSender) Lookup(context.Context, outreach.OutboundMessage, time.Time) (string, bool, error) {
	return "", false, nil
}

// TestProcessChild is a worker or web process of the multi-process tests
// (see startChild); run alone, it is skipped. It runs until its standard
// input closes, or until it is killed.
func TestProcessChild(t *testing.T) {
	role := os.Getenv(envRole)
	if role == "" {
		t.Skip("a process of the multi-process tests, run by them")
	}
	if err := childMain(role); err != nil {
		t.Fatal(err)
	}
}

func childMain(role string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := openChildStore(ctx, os.Getenv(envStore))
	if err != nil {
		return err
	}
	defer store.Close()
	clock, err := sharedClock(os.Getenv(envClock))
	if err != nil {
		return err
	}
	tw := strings.Fields(os.Getenv(envTwilio))
	if role == "studio-worker" {
		return studioWorker(ctx, store, clock, tw, os.Getenv(envRunners))
	}
	opts := outreach.RunnerOptions{
		From: multiNumbers[0], Window: outreach.AnyHour, Clock: clock, Logger: logger, NoThrottle: true,
	}
	if f := strings.Fields(os.Getenv(envRunners)); len(f) == 5 {
		opts.Lease, _ = time.ParseDuration(f[0])
		opts.SendTimeout, _ = time.ParseDuration(f[1])
		opts.ReconcileGrace, _ = time.ParseDuration(f[2])
		opts.BatchSize, _ = strconv.Atoi(f[3])
		opts.PollInterval, _ = time.ParseDuration(f[4])
	}
	if f := strings.Fields(os.Getenv(envRate)); len(f) == 2 {
		r, _ := strconv.ParseFloat(f[0], 64)
		b, _ := strconv.Atoi(f[1])
		opts.NoThrottle, opts.Limiter = false, store.limiter(r, b)
	}
	var sender outreach.Sender
	if d, ok := os.LookupEnv(envNull); ok {
		delay, err := time.ParseDuration(d)
		if err != nil {
			return err
		}
		sender = nullSender{delay: delay}
	} else {
		if len(tw) != 3 {
			return fmt.Errorf("bad %s %q", envTwilio, os.Getenv(envTwilio))
		}
		hc, err := fakeClient(tw[0])
		if err != nil {
			return err
		}
		sender, err = twiliosms.NewSender(twiliosms.Config{
			AccountSID: tw[1], AuthToken: tw[2], From: multiNumbers[0],
			StatusCallbackURL: os.Getenv(envStatus), HTTPClient: hc, Clock: clock, Timeout: opts.SendTimeout,
		})
		if err != nil {
			return err
		}
	}
	runner := outreach.NewRunner(store, sender, opts)

	switch role {
	case "worker":
		if store.listen != nil {
			go func() { _ = store.listen(ctx, runner.Wake) }()
		}
		if err := runner.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		st := runner.Stats()
		fmt.Printf("STATS sent=%d retried=%d ambiguous=%d reconciled=%d resent=%d failed=%d throttled=%d\n",
			st.Sent, st.Retried, st.Ambiguous, st.Reconciled, st.Resent, st.Failed, st.Throttled)
		return nil
	case "web":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		base := "http://" + ln.Addr().String()
		// A webhook that fails (the database restarting) is not sent
		// again: the handler retries, within the fake's 10s timeout.
		cfg := twiliosms.WebhookConfig{AuthToken: tw[2], Logger: logger, Retry: 8 * time.Second}
		cfg.PublicURL = base + "/sms"
		inbound, err := twiliosms.InboundHandler(runner, cfg)
		if err != nil {
			return err
		}
		cfg.PublicURL = base + "/status"
		status, err := twiliosms.StatusHandler(runner, cfg)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("POST /sms", inbound)
		mux.Handle("POST /status", status)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			<-ctx.Done()
			_ = srv.Close()
		}()
		fmt.Printf("LISTEN %s\n", base)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}

// child is a worker or web process started by a test.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	exited chan struct{}
	err    error // set when exited is closed

	mu    sync.Mutex
	lines []string // what it printed after LISTEN
}

// startChild starts the test binary as a child process of role with the
// environment env added; its standard error goes to a file in dir.
func startChild(t testing.TB, dir, name, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessChild$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), append([]string{envRole + "=" + role}, env...)...)
	logf, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	c := &child{name: name, cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), exited: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = cmd.Process.Kill()
			<-c.exited
		}
	})
	if role == "web" {
		line, err := c.out.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "LISTEN ") {
			_ = cmd.Process.Kill()
			t.Fatalf("%s did not start: %q, %v; see %s", name, line, err, filepath.Join(dir, name+".log"))
		}
		c.lines = append(c.lines, strings.TrimSpace(line))
	}
	go func() {
		for {
			line, err := c.out.ReadString('\n')
			if line != "" {
				c.mu.Lock()
				c.lines = append(c.lines, strings.TrimSpace(line))
				c.mu.Unlock()
			}
			if err != nil {
				break
			}
		}
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c
}

// url is the base URL a web process listens on.
func (c *child) url() string { return strings.TrimPrefix(c.lines[0], "LISTEN ") }

// stop closes the child's standard input and waits for it to finish.
func (c *child) stop(t testing.TB) {
	t.Helper()
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		t.Errorf("%s did not stop within 20s of its input closing", c.name)
	}
	if c.err != nil {
		t.Errorf("%s: %v", c.name, c.err)
	}
}

// kill9 kills the child with SIGKILL and waits for it.
func (c *child) kill9(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.exited
}

// cpu is the CPU time the child used, once it has exited.
func (c *child) cpu() time.Duration {
	<-c.exited
	if c.cmd.ProcessState == nil {
		return 0
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

// stats is the STATS line a worker printed when it stopped.
func (c *child) stats() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if s, ok := strings.CutPrefix(l, "STATS "); ok {
			return s
		}
	}
	return ""
}
