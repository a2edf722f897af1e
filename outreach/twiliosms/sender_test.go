package twiliosms_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

const (
	ourNumber = "+15005550006"
	patient   = "+14155550100"
)

var start = time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)

// fixture is a fake Twilio with one phone and a Sender pointed at it.
type fixture struct {
	clock  *outreach.ManualClock
	net    *simphone.Network
	srv    *twiliotest.Server
	sender *twiliosms.Sender
	// inflight counts requests whose answer is not closed yet.
	inflight atomic.Int64
}

func newFixture(t testing.TB, edit func(*twiliosms.Config)) *fixture {
	t.Helper()
	f := &fixture{clock: outreach.NewManualClock(start)}
	f.net = simphone.New(f.clock, 1)
	f.net.Add(patient, simphone.Persona{Responder: simphone.Scripted("7")})
	f.srv = twiliotest.New(twiliotest.Options{Clock: f.clock, Network: f.net, Numbers: []string{ourNumber}})
	t.Cleanup(f.srv.Close)
	cfg := twiliosms.Config{
		AccountSID: f.srv.AccountSID(),
		AuthToken:  f.srv.AuthToken(),
		From:       ourNumber,
		HTTPClient: &http.Client{Transport: &countingTransport{base: f.srv.HTTPClient().Transport, n: &f.inflight}},
		Clock:      f.clock,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := twiliosms.NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.sender = s
	return f
}

// countingTransport counts requests in flight: from the round trip until
// the answer's body is closed.
type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		c.n.Add(-1)
		return nil, err
	}
	resp.Body = &closeCounter{ReadCloser: resp.Body, n: c.n}
	return resp, nil
}

type closeCounter struct {
	io.ReadCloser
	n    *atomic.Int64
	done atomic.Bool
}

func (c *closeCounter) Close() error {
	if c.done.CompareAndSwap(false, true) {
		c.n.Add(-1)
	}
	return c.ReadCloser.Close()
}

func msg(body string) outreach.OutboundMessage {
	return outreach.OutboundMessage{From: ourNumber, To: patient, Body: body}
}

func sendErr(t *testing.T, err error) *outreach.SendError {
	t.Helper()
	var se *outreach.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *outreach.SendError", err, err)
	}
	return se
}

func TestSendSent(t *testing.T) {
	f := newFixture(t, func(c *twiliosms.Config) { c.StatusCallbackURL = "https://hooks.example.org/status" })
	m := msg("How is your pain, 0-10?")
	m.ValidUntil = start.Add(90 * time.Minute)
	sid, err := f.sender.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := f.srv.Message(sid)
	if !ok {
		t.Fatalf("the fake has no message %s", sid)
	}
	if got.To != patient || got.From != ourNumber || got.Body != m.Body || got.StatusCallback != "https://hooks.example.org/status" || got.ValidityPeriod != 5400 {
		t.Fatalf("fake got %+v", got)
	}
	if n := f.inflight.Load(); n != 0 {
		t.Fatalf("%d requests left open", n)
	}
}

func TestSendValidityPeriod(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		left time.Duration
		want int
	}{{0, 0}, {500 * time.Millisecond, 1}, {20 * time.Hour, 36000}, {2*time.Hour + 1500*time.Millisecond, 7201}} {
		m := msg("hello")
		if tc.left > 0 {
			m.ValidUntil = start.Add(tc.left)
		}
		sid, err := f.sender.Send(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := f.srv.Message(sid)
		if got.ValidityPeriod != tc.want {
			t.Errorf("left %v: ValidityPeriod %d, want %d", tc.left, got.ValidityPeriod, tc.want)
		}
	}
	// A window already over: nothing sent, retry later.
	m := msg("hello")
	m.ValidUntil = start.Add(-time.Second)
	before := f.srv.Requests(twiliotest.CreateMessage)
	_, err := f.sender.Send(context.Background(), m)
	if se := sendErr(t, err); se.Kind != outreach.Retryable {
		t.Fatalf("window over: %v", se)
	}
	if f.srv.Requests(twiliotest.CreateMessage) != before {
		t.Fatal("a message was submitted after its window")
	}
}

func TestSendMessagingService(t *testing.T) {
	f := newFixture(t, nil)
	mg := f.srv.AddMessagingService("+15005550007")
	s, err := twiliosms.NewSender(twiliosms.Config{AccountSID: f.srv.AccountSID(), AuthToken: f.srv.AuthToken(), MessagingServiceSID: mg, HTTPClient: f.srv.HTTPClient(), Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	m := outreach.OutboundMessage{To: patient, Body: "Welcome!"} // no From: the service picks
	sid, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.srv.Message(sid)
	if got.MessagingServiceSID != mg || got.From != "+15005550007" {
		t.Fatalf("fake got %+v", got)
	}
	id, found, err := s.Lookup(context.Background(), m, start)
	if err != nil || !found || id != sid {
		t.Fatalf("Lookup = %q, %v, %v; want %q", id, found, err, sid)
	}
}

func TestSendPermanent(t *testing.T) {
	f := newFixture(t, nil)
	f.net.Add("+14155550111", simphone.Persona{}).Text(ourNumber, "STOP")
	for _, tc := range []struct {
		to       string
		code     string
		optedOut bool
	}{
		{"+14155550111", "21610", true},
		{"4155550100", "21211", false},
		{"+14155550999", "21612", false}, // no phone there: unreachable
	} {
		m := msg("hello")
		m.To = tc.to
		_, err := f.sender.Send(context.Background(), m)
		se := sendErr(t, err)
		if se.Kind != outreach.Permanent || se.Code != tc.code || se.OptedOut != tc.optedOut {
			t.Errorf("to %s: %+v, want permanent %s opted out %v", tc.to, se, tc.code, tc.optedOut)
		}
	}
	if n := f.inflight.Load(); n != 0 {
		t.Fatalf("%d requests left open (twilio-go leaves error bodies open)", n)
	}
}

func TestSendRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second, Times: 1})
	_, err := f.sender.Send(context.Background(), msg("hello"))
	se := sendErr(t, err)
	if se.Kind != outreach.Retryable || se.RetryAfter != 7*time.Second || se.Code != "20429" {
		t.Fatalf("429: %+v", se)
	}
	if len(f.srv.Messages()) != 0 {
		t.Fatal("a 429 stored a message")
	}
}

func TestSendServerError(t *testing.T) {
	f := newFixture(t, nil)
	for _, st := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{Status: st, Times: 1})
		_, err := f.sender.Send(context.Background(), msg("hello"))
		if se := sendErr(t, err); se.Kind != outreach.Ambiguous {
			t.Fatalf("%d: %+v", st, se)
		}
	}
}

func TestSendBadCredentials(t *testing.T) {
	f := newFixture(t, nil)
	s, err := twiliosms.NewSender(twiliosms.Config{AccountSID: f.srv.AccountSID(), AuthToken: "wrong0token", From: ourNumber, HTTPClient: f.srv.HTTPClient(), Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), msg("hello"))
	if se := sendErr(t, err); se.Kind != outreach.Retryable || se.Code != "20003" {
		t.Fatalf("401: %+v", se)
	}
}

func TestSendHijackedThenLookup(t *testing.T) {
	f := newFixture(t, nil)
	intent := start
	f.clock.Set(start.Add(300 * time.Millisecond)) // created within the intent's second
	f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{Hijack: true, Times: 1})
	m := msg("Reply 1 to confirm")
	_, err := f.sender.Send(context.Background(), m)
	if se := sendErr(t, err); se.Kind != outreach.Ambiguous {
		t.Fatalf("hijacked: %+v", se)
	}
	msgs := f.srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the fake holds %d messages", len(msgs))
	}
	sid, found, err := f.sender.Lookup(context.Background(), m, intent.Add(500*time.Millisecond))
	if err != nil || !found || sid != msgs[0].SID {
		t.Fatalf("Lookup = %q, %v, %v; want %s", sid, found, err, msgs[0].SID)
	}
	// Once sent and delivered, it is still found.
	for at, ok := f.srv.Next(); ok; at, ok = f.srv.Next() {
		f.clock.Set(at)
		_ = f.srv.Step(context.Background(), at)
	}
	if got, _ := f.srv.Message(sid); got.Status != "delivered" {
		t.Fatalf("status %s", got.Status)
	}
	if _, found, err := f.sender.Lookup(context.Background(), m, intent); err != nil || !found {
		t.Fatalf("delivered: found %v, %v", found, err)
	}
	// Another body, or an intent after the message: not found.
	if _, found, err := f.sender.Lookup(context.Background(), msg("other"), intent); err != nil || found {
		t.Fatalf("other body: found %v, %v", found, err)
	}
	if _, found, err := f.sender.Lookup(context.Background(), m, start.Add(2*time.Second)); err != nil || found {
		t.Fatalf("later intent: found %v, %v", found, err)
	}
}

func TestLookupPages(t *testing.T) {
	f := newFixture(t, nil)
	target := msg("the one")
	sid, err := f.sender.Send(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	// 250 newer messages to the same patient: the match is on page 3.
	for range 250 {
		f.clock.Advance(time.Second)
		if _, err := f.sender.Send(context.Background(), msg("noise")); err != nil {
			t.Fatal(err)
		}
	}
	before := f.srv.Requests(twiliotest.ListMessages)
	got, found, err := f.sender.Lookup(context.Background(), target, start)
	if err != nil || !found || got != sid {
		t.Fatalf("Lookup = %q, %v, %v; want %s", got, found, err, sid)
	}
	if n := f.srv.Requests(twiliotest.ListMessages) - before; n != 3 {
		t.Fatalf("%d list requests, want 3 pages", n)
	}
}

func TestLookupStopsAtOlderSent(t *testing.T) {
	f := newFixture(t, nil)
	for range 150 {
		if _, err := f.sender.Send(context.Background(), msg("old")); err != nil {
			t.Fatal(err)
		}
	}
	for at, ok := f.srv.Next(); ok; at, ok = f.srv.Next() { // all sent
		f.clock.Set(at)
		_ = f.srv.Step(context.Background(), at)
	}
	f.clock.Advance(time.Hour)
	before := f.srv.Requests(twiliotest.ListMessages)
	_, found, err := f.sender.Lookup(context.Background(), msg("new"), f.clock.Now())
	if err != nil || found {
		t.Fatalf("found %v, %v", found, err)
	}
	if n := f.srv.Requests(twiliotest.ListMessages) - before; n != 1 {
		t.Fatalf("%d list requests, want 1: the first message sent before the intent ends the search", n)
	}
}

func TestSendCancelledMidCall(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{Latency: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := f.sender.Send(ctx, msg("hello"))
	took := time.Since(t0)
	if se := sendErr(t, err); se.Kind != outreach.Ambiguous {
		t.Fatalf("cancelled in flight: %+v", se)
	}
	if took > time.Second {
		t.Fatalf("Send took %v after its 100ms deadline", took)
	}
	if n := f.inflight.Load(); n != 0 {
		t.Fatalf("%d requests still running after Send returned", n)
	}
}

func TestSendTimeout(t *testing.T) {
	f := newFixture(t, func(c *twiliosms.Config) { c.Timeout = 100 * time.Millisecond })
	f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{Latency: 10 * time.Second})
	t0 := time.Now()
	_, err := f.sender.Send(context.Background(), msg("hello"))
	if se := sendErr(t, err); se.Kind != outreach.Ambiguous || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %+v", se)
	}
	if took := time.Since(t0); took > time.Second {
		t.Fatalf("Send took %v with a 100ms timeout", took)
	}
	if n := f.inflight.Load(); n != 0 {
		t.Fatalf("%d requests still running", n)
	}
}

func TestSendContextDoneBefore(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.sender.Send(ctx, msg("hello"))
	if se := sendErr(t, err); se.Kind != outreach.Retryable {
		t.Fatalf("cancelled before: %+v", se)
	}
	if n := f.srv.Requests(twiliotest.CreateMessage); n != 0 {
		t.Fatalf("%d requests reached the fake", n)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.Close()
	_, err := f.sender.Send(context.Background(), msg("hello"))
	if se := sendErr(t, err); se.Kind != outreach.Retryable {
		t.Fatalf("connection refused: %+v", se)
	}
}

func TestNewSenderConfig(t *testing.T) {
	ok := twiliosms.Config{AccountSID: "AC0123", AuthToken: "tok", From: ourNumber, Clock: clocktest.Manual(t)}
	for name, edit := range map[string]func(*twiliosms.Config){
		"no sid":         func(c *twiliosms.Config) { c.AccountSID = "" },
		"no token":       func(c *twiliosms.Config) { c.AuthToken = "" },
		"token chars":    func(c *twiliosms.Config) { c.AuthToken = "a/b" },
		"no from":        func(c *twiliosms.Config) { c.From = "" },
		"from not e164":  func(c *twiliosms.Config) { c.From = "4155550100" },
		"bad service":    func(c *twiliosms.Config) { c.From, c.MessagingServiceSID = "", "XX1" },
		"bad callback":   func(c *twiliosms.Config) { c.StatusCallbackURL = "/status" },
		"negative limit": func(c *twiliosms.Config) { c.Timeout = -1 },
	} {
		c := ok
		edit(&c)
		if _, err := twiliosms.NewSender(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := twiliosms.NewSender(ok); err != nil {
		t.Fatal(err)
	}
}
