package twilioverify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/verify"
	"github.com/patient-outreach/sms/verify/twilioverify"
)

const clinic = "Sunrise Clinic"

// t0 is the tests' fixed start instant (as verify's own tests use).
var t0 = time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)

// The user of the login test.
const (
	phone    = "+14155550100"
	admin    = "admin"
	password = "correct horse battery staple"
	addr     = "192.0.2.10"
)

// twFixture is a fake Twilio on a manual clock and a TwilioCodes on it.
type twFixture struct {
	clock *outreach.ManualClock
	srv   *twiliotest.Server
	codes *twilioverify.Codes
	// inflight counts requests whose answer is not closed yet.
	inflight atomic.Int64
}

func newTwFixture(t *testing.T, edit func(*twilioverify.Config)) *twFixture {
	t.Helper()
	f := &twFixture{clock: outreach.NewManualClock(t0)}
	f.srv = twiliotest.New(twiliotest.Options{Clock: f.clock})
	t.Cleanup(f.srv.Close)
	cfg := f.config()
	if edit != nil {
		edit(&cfg)
	}
	var err error
	if f.codes, err = twilioverify.New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *twFixture) config() twilioverify.Config {
	return twilioverify.Config{
		AccountSID:  f.srv.AccountSID(),
		AuthToken:   f.srv.AuthToken(),
		ServiceName: clinic,
		HTTPClient:  &http.Client{Transport: &inflightTransport{base: f.srv.HTTPClient().Transport, n: &f.inflight}},
	}
}

// code returns the pending code of phone, as the phone would get it.
func (f *twFixture) code(t *testing.T) string {
	t.Helper()
	c, ok := f.srv.VerifyCode(f.codes.ServiceSID(), phone)
	if !ok {
		t.Fatal("no pending verification at the fake")
	}
	return c
}

func (f *twFixture) noneInFlight(t *testing.T) {
	t.Helper()
	if n := f.inflight.Load(); n != 0 {
		t.Fatalf("%d requests still open", n)
	}
}

// inflightTransport counts requests in flight: from the round trip until
// the answer's body is closed.
type inflightTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (c *inflightTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		c.n.Add(-1)
		return nil, err
	}
	resp.Body = &bodyCounter{ReadCloser: resp.Body, n: c.n}
	return resp, nil
}

type bodyCounter struct {
	io.ReadCloser
	n    *atomic.Int64
	done atomic.Bool
}

func (c *bodyCounter) Close() error {
	if c.done.CompareAndSwap(false, true) {
		c.n.Add(-1)
	}
	return c.ReadCloser.Close()
}

// noSecret fails if err's message holds the phone number or a code.
func noSecret(t *testing.T, err error, codes ...string) {
	t.Helper()
	msg := err.Error()
	for _, s := range append(codes, phone, phone[len(phone)-7:]) {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error %q contains a secret", msg)
		}
	}
}

func TestTwilioCodesService(t *testing.T) {
	f := newTwFixture(t, nil)
	sid := f.codes.ServiceSID()
	if !strings.HasPrefix(sid, "VA") {
		t.Fatalf("service SID %q", sid)
	}
	if n := f.srv.Requests(twiliotest.CreateVerifyService); n != 1 {
		t.Fatalf("%d services created, want 1", n)
	}
	sv, err := f.srv.Client().VerifyV2.FetchService(sid)
	if err != nil || *sv.FriendlyName != clinic {
		t.Fatalf("fetch service: %+v, %v", sv, err)
	}

	// A second start finds it, after more than a page of other services.
	for i := range 120 {
		name := fmt.Sprintf("Other %d", i)
		if _, err := f.srv.Client().VerifyV2.CreateService(&openapi.CreateServiceParams{FriendlyName: &name}); err != nil {
			t.Fatal(err)
		}
	}
	again, err := twilioverify.New(context.Background(), f.config())
	if err != nil || again.ServiceSID() != sid {
		t.Fatalf("second NewTwilioCodes: %v, %v; want service %s", again, err, sid)
	}
	if n := f.srv.Requests(twiliotest.CreateVerifyService); n != 121 {
		t.Fatalf("%d services created, want no new one", n-120)
	}

	// A service past the first page is found by following next_page_url.
	cfg := f.config()
	cfg.ServiceName = "Other 110"
	lists := f.srv.Requests(twiliotest.ListVerifyServices)
	other, err := twilioverify.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Requests(twiliotest.ListVerifyServices) - lists; n != 2 {
		t.Fatalf("%d list requests, want 2 pages", n)
	}
	if n := f.srv.Requests(twiliotest.CreateVerifyService); n != 121 || other.ServiceSID() == sid {
		t.Fatalf("a service on page 2 was not found (%d creates)", n)
	}
	f.noneInFlight(t)
}

func TestTwilioCodesSendCheck(t *testing.T) {
	ctx := context.Background()
	f := newTwFixture(t, nil)
	if err := f.codes.SendCode(ctx, phone); err != nil {
		t.Fatal(err)
	}
	code := f.code(t)
	if ok, err := f.codes.CheckCode(ctx, phone, otherCode(code)); ok || err != nil {
		t.Fatalf("wrong code: %v, %v", ok, err)
	}
	if ok, err := f.codes.CheckCode(ctx, phone, code); !ok || err != nil {
		t.Fatalf("right code: %v, %v", ok, err)
	}
	// A code works once.
	_, err := f.codes.CheckCode(ctx, phone, code)
	if !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("used code: %v; want ErrExpired", err)
	}
	noSecret(t, err, code)
	// Never sent.
	if _, err := f.codes.CheckCode(ctx, "+14155550199", "123456"); !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("no verification: %v; want ErrExpired", err)
	}
	// A resend keeps the code.
	if err := f.codes.SendCode(ctx, phone); err != nil {
		t.Fatal(err)
	}
	code = f.code(t)
	if err := f.codes.SendCode(ctx, phone); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.codes.CheckCode(ctx, phone, code); !ok || err != nil {
		t.Fatalf("right code after a resend: %v, %v", ok, err)
	}
	if n := f.srv.Requests(twiliotest.CreateVerification); n != 3 {
		t.Fatalf("%d verifications created, want 3", n)
	}
	f.noneInFlight(t)
}

func TestTwilioCodesExpired(t *testing.T) {
	ctx := context.Background()
	f := newTwFixture(t, nil)
	if err := f.codes.SendCode(ctx, phone); err != nil {
		t.Fatal(err)
	}
	code := f.code(t)
	f.clock.Advance(verify.CodeTTL - time.Second)
	if ok, err := f.codes.CheckCode(ctx, phone, otherCode(code)); ok || err != nil {
		t.Fatalf("wrong code before expiry: %v, %v", ok, err)
	}
	f.clock.Advance(time.Second)
	_, err := f.codes.CheckCode(ctx, phone, code)
	if !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("expired code: %v; want ErrExpired", err)
	}
	noSecret(t, err, code)
}

func TestTwilioCodesCanceledAfterChecks(t *testing.T) {
	ctx := context.Background()
	f := newTwFixture(t, nil)
	if err := f.codes.SendCode(ctx, phone); err != nil {
		t.Fatal(err)
	}
	code := f.code(t)
	for i := range twiliotest.MaxChecks {
		if ok, err := f.codes.CheckCode(ctx, phone, otherCode(code)); ok || err != nil {
			t.Fatalf("wrong check %d: %v, %v", i+1, ok, err)
		}
	}
	_, err := f.codes.CheckCode(ctx, phone, code)
	if !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("right code after %d wrong ones: %v; want ErrExpired", twiliotest.MaxChecks, err)
	}
	noSecret(t, err, code)
	// A new code works.
	if err := f.codes.SendCode(ctx, phone); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.codes.CheckCode(ctx, phone, f.code(t)); !ok || err != nil {
		t.Fatalf("new code: %v, %v", ok, err)
	}
}

func TestTwilioCodesTooManySends(t *testing.T) {
	ctx := context.Background()
	f := newTwFixture(t, nil)
	for i := range twiliotest.MaxSends {
		if err := f.codes.SendCode(ctx, phone); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	err := f.codes.SendCode(ctx, phone)
	if !errors.Is(err, verify.ErrTooManyCodes) || errors.Is(err, verify.ErrExpired) {
		t.Fatalf("send %d: %v; want ErrTooManyCodes", twiliotest.MaxSends+1, err)
	}
	noSecret(t, err)
	// The limit lifts when the verification expires.
	f.clock.Advance(verify.CodeTTL)
	if err := f.codes.SendCode(ctx, phone); err != nil {
		t.Fatalf("send after expiry: %v", err)
	}
}

func TestTwilioCodesLogin(t *testing.T) {
	ctx := context.Background()
	f := newTwFixture(t, nil)
	hash, err := verify.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	login, err := verify.New(verify.Config{
		Account:      admin,
		PasswordHash: hash,
		Phone:        phone,
		Codes:        f.codes,
		Clock:        f.clock,
		MaxFailures:  10,
	})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := login.CheckPassword(ctx, admin, addr, password)
	if err != nil {
		t.Fatal(err)
	}
	code := f.code(t)
	if err := login.CheckCode(ctx, admin, addr, ch.Token, otherCode(code)); !errors.Is(err, verify.ErrWrongCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := login.CheckCode(ctx, admin, addr, ch.Token, code); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if err := login.CheckCode(ctx, admin, addr, ch.Token, code); !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("used challenge: %v", err)
	}

	// Twilio's expiry reaches the web layer as ErrExpired.
	login2, err := verify.New(verify.Config{
		Account: admin, PasswordHash: hash, Phone: phone, Codes: f.codes, Clock: f.clock,
		MaxFailures: 10, ChallengeTTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ch, err = login2.CheckPassword(ctx, admin, addr, password); err != nil {
		t.Fatal(err)
	}
	code = f.code(t)
	f.clock.Advance(verify.CodeTTL)
	err = login2.CheckCode(ctx, admin, addr, ch.Token, code)
	if !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("expired code: %v", err)
	}
	noSecret(t, err, code)

	// Too many codes: a SenderError the web layer can tell apart.
	for i := range twiliotest.MaxSends {
		if _, err := login.CheckPassword(ctx, admin, addr, password); err != nil {
			t.Fatalf("password step %d: %v", i+1, err)
		}
	}
	_, err = login.CheckPassword(ctx, admin, addr, password)
	var se *verify.SenderError
	if !errors.As(err, &se) || se.Op != "send" || !errors.Is(err, verify.ErrTooManyCodes) {
		t.Fatalf("6th code: %v; want a SenderError matching ErrTooManyCodes", err)
	}
	noSecret(t, err)
	f.noneInFlight(t)
}

func TestTwilioCodesCancelledMidCall(t *testing.T) {
	f := newTwFixture(t, nil)
	for _, tc := range []struct {
		ep   twiliotest.Endpoint
		call func(ctx context.Context) error
	}{
		{twiliotest.CreateVerification, func(ctx context.Context) error { return f.codes.SendCode(ctx, phone) }},
		{twiliotest.CheckVerification, func(ctx context.Context) error {
			_, err := f.codes.CheckCode(ctx, phone, "123456")
			return err
		}},
	} {
		f.srv.SetFault(tc.ep, twiliotest.Fault{Latency: 10 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		err := tc.call(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.Canceled) || errors.Is(err, verify.ErrExpired) {
			t.Fatalf("%s cancelled in flight: %v", tc.ep, err)
		}
		if took > time.Second {
			t.Fatalf("%s took %v after its cancellation at 100ms", tc.ep, took)
		}
		f.noneInFlight(t)
		noSecret(t, err, "123456")
		f.srv.SetFault(tc.ep, twiliotest.Fault{})
	}
}

func TestTwilioCodesTimeout(t *testing.T) {
	f := newTwFixture(t, func(c *twilioverify.Config) { c.Timeout = 100 * time.Millisecond })
	f.srv.SetFault(twiliotest.CreateVerification, twiliotest.Fault{Latency: 10 * time.Second})
	start := time.Now()
	err := f.codes.SendCode(context.Background(), phone)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendCode with a slow Twilio: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("SendCode took %v with a 100ms timeout", took)
	}
	f.noneInFlight(t)
}

func TestTwilioCodesContextDoneBefore(t *testing.T) {
	f := newTwFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.codes.SendCode(ctx, phone); !errors.Is(err, context.Canceled) {
		t.Fatalf("SendCode = %v", err)
	}
	if _, err := f.codes.CheckCode(ctx, phone, "123456"); !errors.Is(err, context.Canceled) {
		t.Fatalf("CheckCode = %v", err)
	}
	if _, err := twilioverify.New(ctx, f.config()); !errors.Is(err, context.Canceled) {
		t.Fatalf("NewTwilioCodes = %v", err)
	}
	if n := f.srv.Requests(twiliotest.CreateVerification) + f.srv.Requests(twiliotest.CheckVerification); n != 0 {
		t.Fatalf("%d requests reached the fake", n)
	}
}

func TestTwilioCodesFailures(t *testing.T) {
	ctx := context.Background()
	f := newTwFixture(t, nil)
	if err := f.codes.SendCode(ctx, phone); err != nil {
		t.Fatal(err)
	}
	code := f.code(t)
	f.srv.SetFault(twiliotest.CheckVerification, twiliotest.Fault{Status: 500, Times: 1})
	_, err := f.codes.CheckCode(ctx, phone, code)
	if err == nil || errors.Is(err, verify.ErrExpired) || errors.Is(err, verify.ErrTooManyCodes) {
		t.Fatalf("check with a 500: %v", err)
	}
	noSecret(t, err, code)
	f.srv.SetFault(twiliotest.CreateVerification, twiliotest.Fault{Status: 429, Times: 1})
	err = f.codes.SendCode(ctx, phone)
	if err == nil || errors.Is(err, verify.ErrTooManyCodes) {
		t.Fatalf("send rate limited (20429): %v", err)
	}
	noSecret(t, err)
	// The code survived both.
	if ok, err := f.codes.CheckCode(ctx, phone, code); !ok || err != nil {
		t.Fatalf("right code: %v, %v", ok, err)
	}

	// Wrong credentials fail at the start.
	cfg := f.config()
	cfg.AuthToken = "wrongtoken"
	if _, err := twilioverify.New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("NewTwilioCodes with a wrong token: %v", err)
	}
	// An unreachable Twilio.
	cfg = f.config()
	f.srv.Close()
	if _, err := twilioverify.New(ctx, cfg); err == nil {
		t.Fatal("NewTwilioCodes with Twilio down succeeded")
	}
	f.noneInFlight(t)
}

func TestNewTwilioCodesConfig(t *testing.T) {
	ok := twilioverify.Config{AccountSID: "AC0123", AuthToken: "tok", ServiceName: clinic}
	for name, edit := range map[string]func(*twilioverify.Config){
		"no sid":           func(c *twilioverify.Config) { c.AccountSID = "" },
		"no token":         func(c *twilioverify.Config) { c.AuthToken = "" },
		"bad token":        func(c *twilioverify.Config) { c.AuthToken = "a b" },
		"no name":          func(c *twilioverify.Config) { c.ServiceName = " " },
		"name too long":    func(c *twilioverify.Config) { c.ServiceName = strings.Repeat("x", verify.MaxServiceNameLen+1) },
		"negative timeout": func(c *twilioverify.Config) { c.Timeout = -time.Second },
	} {
		cfg := ok
		edit(&cfg)
		if _, err := twilioverify.New(context.Background(), cfg); err == nil {
			t.Errorf("%s: NewTwilioCodes succeeded", name)
		}
	}
}

// otherCode returns a well-formed code that is not code.
func otherCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}
