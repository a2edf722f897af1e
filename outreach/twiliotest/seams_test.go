package twiliotest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
	studio "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// drain moves the clock to each due time and steps, until nothing is due,
// and returns Step's errors.
func (f *fixture) drain(t *testing.T) []error {
	t.Helper()
	var errs []error
	for at, ok := f.srv.Next(); ok; at, ok = f.srv.Next() {
		f.clock.Set(at)
		if err := f.srv.Step(context.Background(), at); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func TestAfterFunc(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	var (
		mu  sync.Mutex
		got []string
	)
	mark := func(s string) func(context.Context) {
		return func(ctx context.Context) {
			if ctx == nil {
				t.Error("timer without a context")
			}
			// No lock is held: the timer may call the server.
			_ = f.srv.Timers()
			mu.Lock()
			got = append(got, s)
			mu.Unlock()
		}
	}
	f.srv.AfterFunc(start.Add(10*time.Second), mark("b"))
	stopC := f.srv.AfterFunc(start.Add(7*time.Second), mark("c"))
	f.srv.AfterFunc(start.Add(5*time.Second), mark("a"))
	f.srv.AfterFunc(start.Add(10*time.Second), mark("b2")) // same time: in the order set
	if at, ok := f.srv.Next(); !ok || !at.Equal(start.Add(5*time.Second)) {
		t.Fatalf("Next = %v, %v; want the earliest timer", at, ok)
	}
	if !stopC() || stopC() {
		t.Fatal("stop: want true, then false")
	}
	if n := f.srv.Timers(); n != 3 {
		t.Fatalf("%d timers pending, want 3", n)
	}
	// Nothing runs before its time.
	if err := f.srv.Step(context.Background(), start.Add(4*time.Second)); err != nil || len(got) != 0 {
		t.Fatalf("early step ran %v, %v", got, err)
	}
	if errs := f.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	if strings.Join(got, ",") != "a,b,b2" {
		t.Fatalf("timers ran %v, want a,b,b2", got)
	}
	if _, ok := f.srv.Next(); ok || f.srv.Timers() != 0 {
		t.Fatal("timers left after they ran")
	}
	// A timer in the past runs at the next Step.
	f.srv.AfterFunc(start, mark("late"))
	if err := f.srv.Step(context.Background(), f.clock.Now()); err != nil || got[len(got)-1] != "late" {
		t.Fatalf("late timer: %v, %v", got, err)
	}
}

// A text and a timer due at the same instant: the text is delivered first.
func TestAfterFuncAfterTextsOfSameInstant(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	var (
		mu    sync.Mutex
		order []string
	)
	h := newHook(t, f.srv.AuthToken())
	f.srv.SetSmsURL(ours, h.srv.URL+"/sms")
	p := &api.CreateMessageParams{}
	p.SetFrom(ours).SetTo(ann).SetBody("Pain 0-10?")
	if _, err := f.srv.Client().Api.CreateMessage(p); err != nil {
		t.Fatal(err)
	}
	replyAt, ok := f.net.NextDue()
	if !ok {
		t.Fatal("no reply queued")
	}
	f.srv.AfterFunc(replyAt, func(context.Context) {
		mu.Lock()
		defer mu.Unlock()
		h.mu.Lock()
		n := len(h.got)
		h.mu.Unlock()
		order = append(order, "timer")
		if n != 1 {
			t.Errorf("timer ran with %d texts delivered, want 1", n)
		}
	})
	f.srv.AfterFunc(replyAt.Add(-time.Second), func(context.Context) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, "early")
	})
	if errs := f.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	if strings.Join(order, ",") != "early,timer" {
		t.Fatalf("order %v", order)
	}
}

func TestRunWakesForTimers(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	fired := make(chan struct{})
	time.Sleep(30 * time.Millisecond) // let Run wait with nothing due
	f.srv.AfterFunc(start.Add(time.Hour), func(context.Context) { close(fired) })
	time.Sleep(30 * time.Millisecond)
	f.clock.Advance(time.Hour)
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not run the timer")
	}
}

// replyRunner keeps executions active and records the replies given to
// them.
type replyRunner struct {
	mu      sync.Mutex
	replies []twiliotest.Message
	execs   []twiliotest.Execution
	started []twiliotest.Execution
	fail    error
}

func (r *replyRunner) StartExecution(_ context.Context, _ *twiliotest.Server, e twiliotest.Execution) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, e)
	return nil
}

// startedByText returns the executions started since the n-th that a
// text started (their context has trigger.message).
func (r *replyRunner) startedByText(n int) []twiliotest.Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []twiliotest.Execution
	for _, e := range r.started[n:] {
		if trig, _ := e.Context["trigger"].(map[string]any); trig["message"] != nil {
			out = append(out, e)
		}
	}
	return out
}

// checkStartedByText fails unless e is an active execution of flowSID
// that a text of body from phone to ours started, with the text as
// trigger.message and no flow.data, as Studio starts one.
func checkStartedByText(t *testing.T, e twiliotest.Execution, flowSID, phone, body string) {
	t.Helper()
	trig, _ := e.Context["trigger"].(map[string]any)
	msg, _ := trig["message"].(map[string]any)
	flow, _ := e.Context["flow"].(map[string]any)
	data, _ := flow["data"].(map[string]any)
	sid, _ := msg["MessageSid"].(string)
	if e.FlowSID != flowSID || e.ContactChannelAddress != phone || e.From != ours || e.Status != "active" ||
		msg["Body"] != body || msg["From"] != phone || msg["To"] != ours || !strings.HasPrefix(sid, "SM") || len(data) != 0 || trig["request"] != nil {
		t.Fatalf("execution started by %q from %s: %+v", body, phone, e)
	}
}

func (r *replyRunner) ExecutionReply(ctx context.Context, srv *twiliotest.Server, e twiliotest.Execution, m twiliotest.Message) error {
	if _, ok := srv.Execution(e.SID); !ok { // no lock held
		return errors.New("execution not found")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, m)
	r.execs = append(r.execs, e)
	return r.fail
}

func (r *replyRunner) got() ([]twiliotest.Message, []twiliotest.Execution) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]twiliotest.Message(nil), r.replies...), append([]twiliotest.Execution(nil), r.execs...)
}

// plainRunner is an ExecutionRunner that takes no replies.
type plainRunner struct{}

func (plainRunner) StartExecution(context.Context, *twiliotest.Server, twiliotest.Execution) error {
	return nil
}

func TestStudioRepliesGoToTheActiveExecution(t *testing.T) {
	runner := &replyRunner{}
	f := newFixture(t, twiliotest.Options{Studio: runner})
	c := f.srv.Client().StudioV2
	fl := createFlow(t, c, "Survey", "published", studioDef("Hi"))
	other := createFlow(t, c, "Other", "published", studioDef("Hi"))
	webhook := "https://webhooks.twilio.com/v1/Accounts/" + f.srv.AccountSID() + "/Flows/" + *fl.Sid
	if *fl.WebhookUrl != webhook {
		t.Fatalf("flow webhook %q, want %q", *fl.WebhookUrl, webhook)
	}
	f.srv.SetSmsURL(ours, webhook) // never POSTed: that would fail, offline
	e, err := createExecution(c, *fl.Sid, ann, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Ann's execution of another flow is not the one that gets the reply.
	if _, err := createExecution(c, *other.Sid, ann, nil); err != nil {
		t.Fatal(err)
	}
	f.net.Phone(ann).Text(ours, "7")
	f.net.Phone(bob).Text(ours, "hello") // no execution for bob: it starts one
	if errs := f.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	byText := runner.startedByText(0)
	if len(byText) != 1 {
		t.Fatalf("%d executions started by a text, want 1 (Bob's)", len(byText))
	}
	checkStartedByText(t, byText[0], *fl.Sid, bob, "hello")
	replies, execs := runner.got()
	if len(replies) != 1 || replies[0].Body != "7" || replies[0].From != ann || replies[0].To != ours ||
		replies[0].Direction != "inbound" || !strings.HasPrefix(replies[0].SID, "SM") {
		t.Fatalf("replies %+v", replies)
	}
	if execs[0].SID != *e.Sid || execs[0].Status != "active" {
		t.Fatalf("reply given to %+v", execs[0])
	}
	// Both texts are recorded as inbound messages.
	inbound := 0
	for _, m := range f.srv.Messages() {
		if m.Direction == "inbound" && m.Status == "received" {
			inbound++
		}
	}
	if inbound != 2 {
		t.Fatalf("%d inbound messages recorded, want 2", inbound)
	}

	// The runner's error comes out of Step, naming SIDs only.
	runner.fail = errors.New("boom")
	f.net.Phone(ann).Text(ours, "secret reply")
	errs := f.drain(t)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "boom") || !strings.Contains(errs[0].Error(), *e.Sid) ||
		strings.Contains(errs[0].Error(), "secret") || strings.Contains(errs[0].Error(), ann) {
		t.Fatalf("errors %v", errs)
	}
	runner.fail = nil

	// An ended execution gets no reply.
	if _, err := c.UpdateExecution(*fl.Sid, *e.Sid, updateEnded()); err != nil {
		t.Fatal(err)
	}
	before, _ := runner.got()
	f.net.Phone(ann).Text(ours, "late")
	if errs := f.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	if after, _ := runner.got(); len(after) != len(before) {
		t.Fatal("an ended execution got a reply")
	}
	// The late text started another execution, as in Studio.
	if byText = runner.startedByText(0); len(byText) != 2 {
		t.Fatalf("%d executions started by texts, want 2", len(byText))
	}
	checkStartedByText(t, byText[1], *fl.Sid, ann, "late")
	if _, err := c.UpdateExecution(*fl.Sid, byText[1].SID, updateEnded()); err != nil {
		t.Fatal(err)
	}

	// A runner that takes no replies: the text is only recorded.
	f.srv.SetExecutionRunner(plainRunner{})
	if _, err := createExecution(c, *fl.Sid, ann, nil); err != nil {
		t.Fatal(err)
	}
	f.net.Phone(ann).Text(ours, "8")
	if errs := f.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}

	// A Studio webhook of no flow the fake holds is an error, not a POST.
	f.srv.SetSmsURL(ours, "https://webhooks.twilio.com/v1/Accounts/"+f.srv.AccountSID()+"/Flows/FW00000000000000000000000000000000")
	f.net.Phone(ann).Text(ours, "9")
	if errs := f.drain(t); len(errs) != 1 || !strings.Contains(errs[0].Error(), "Studio webhook") {
		t.Fatalf("errors %v", errs)
	}
}

func updateEnded() *studio.UpdateExecutionParams {
	p := &studio.UpdateExecutionParams{}
	p.SetStatus("ended")
	return p
}

func TestExecutionsPerSecond(t *testing.T) {
	f := newFixture(t, twiliotest.Options{ExecutionsPerSecond: 2})
	c := f.srv.Client().StudioV2
	fl := createFlow(t, c, "Survey", "published", studioDef("x"))
	for _, to := range []string{ann, bob} {
		if _, err := createExecution(c, *fl.Sid, to, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := createExecution(c, *fl.Sid, nobody, nil)
	restError(t, err, 429, 20429)
	if n := len(f.srv.Executions(*fl.Sid)); n != 2 {
		t.Fatalf("%d executions stored, want 2", n)
	}

	// The raw answer carries Retry-After: 1.
	form := url.Values{"To": {nobody}, "From": {ours}}
	req, err := http.NewRequest(http.MethodPost, "https://studio.twilio.com/v2/Flows/"+*fl.Sid+"/Executions", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.srv.AccountSID(), f.srv.AuthToken())
	resp, err := f.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("raw answer %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}

	// Just under a second later, still refused; a second later, let through.
	f.clock.Advance(999 * time.Millisecond)
	_, err = createExecution(c, *fl.Sid, nobody, nil)
	restError(t, err, 429, 20429)
	f.clock.Advance(time.Millisecond)
	if _, err := createExecution(c, *fl.Sid, nobody, nil); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Requests(twiliotest.CreateExecution); n != 6 {
		t.Fatalf("Requests(CreateExecution) = %d, want 6 (refused ones included)", n)
	}
}
