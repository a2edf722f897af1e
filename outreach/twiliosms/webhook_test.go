package twiliosms_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

const (
	token     = "0123456789abcdef0123456789abcdef"
	smsURL    = "https://outreach.example.org/twilio/sms?campaign=7"
	statusURL = "https://outreach.example.org/twilio/status"
)

// recorder is a fake receiver that records what it is handed.
type recorder struct {
	mu       sync.Mutex
	inbound  []outreach.InboundMessage
	statuses []outreach.StatusUpdate
	reply    string
	err      error
}

func (r *recorder) HandleInbound(_ context.Context, in outreach.InboundMessage) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inbound = append(r.inbound, in)
	return r.reply, r.err
}

func (r *recorder) HandleStatus(_ context.Context, u outreach.StatusUpdate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, u)
	return r.err
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inbound) + len(r.statuses)
}

func inboundParams(body string) url.Values {
	return url.Values{
		"AccountSid": {"AC0123"}, "ApiVersion": {"2010-04-01"}, "MessageSid": {"SM0001"}, "SmsSid": {"SM0001"},
		"From": {patient}, "To": {ourNumber}, "Body": {body}, "NumMedia": {"0"},
	}
}

func newInbound(t *testing.T, rcv twiliosms.InboundReceiver) http.Handler {
	t.Helper()
	h, err := twiliosms.InboundHandler(rcv, twiliosms.WebhookConfig{AuthToken: token, PublicURL: smsURL})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func signed(t *testing.T, u string, params url.Values) *http.Request {
	t.Helper()
	r, err := twiliotest.NewWebhookRequest(context.Background(), token, u, params)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInboundValid(t *testing.T) {
	rec := &recorder{}
	h := newInbound(t, rec)
	// Behind a proxy the request's own URL differs from the public one.
	r := signed(t, smsURL, inboundParams("about a 3"))
	r.URL, _ = url.Parse("http://10.0.0.7:8080/sms")
	r.Host = "10.0.0.7:8080"
	w := serve(h, r)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/xml") {
		t.Fatalf("answered %d %q: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if !strings.HasSuffix(w.Body.String(), "<Response/>") {
		t.Fatalf("TwiML %q", w.Body)
	}
	want := outreach.InboundMessage{From: patient, To: ourNumber, Body: "about a 3", ProviderID: "SM0001"}
	if len(rec.inbound) != 1 || rec.inbound[0] != want {
		t.Fatalf("handed %+v", rec.inbound)
	}
}

func TestInboundRefused(t *testing.T) {
	p := inboundParams("STOP")
	for name, tc := range map[string]struct {
		req  func() *http.Request
		code int
	}{
		"tampered body": {func() *http.Request {
			r := signed(t, smsURL, p)
			q := inboundParams("START")
			r.Body = httpBody(q.Encode())
			return r
		}, http.StatusForbidden},
		"added parameter": {func() *http.Request {
			r := signed(t, smsURL, p)
			q := inboundParams("STOP")
			q.Set("Extra", "1")
			r.Body = httpBody(q.Encode())
			return r
		}, http.StatusForbidden},
		"tampered URL": {func() *http.Request {
			return signed(t, "https://outreach.example.org/twilio/sms?campaign=8", p)
		}, http.StatusForbidden},
		"other token": {func() *http.Request {
			r, _ := twiliotest.NewWebhookRequest(context.Background(), "otherToken", smsURL, p)
			return r
		}, http.StatusForbidden},
		"missing header": {func() *http.Request {
			r := signed(t, smsURL, p)
			r.Header.Del(twiliosms.SignatureHeader)
			return r
		}, http.StatusForbidden},
		"GET": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, smsURL, nil)
		}, http.StatusMethodNotAllowed},
		"too large": {func() *http.Request {
			q := inboundParams(strings.Repeat("x", twiliosms.DefaultMaxBodyBytes))
			return signed(t, smsURL, q)
		}, http.StatusRequestEntityTooLarge},
		"no MessageSid": {func() *http.Request {
			q := inboundParams("hi")
			q.Del("MessageSid")
			q.Del("SmsSid")
			return signed(t, smsURL, q)
		}, http.StatusBadRequest},
	} {
		rec := &recorder{}
		w := serve(newInbound(t, rec), tc.req())
		if w.Code != tc.code || rec.calls() != 0 {
			t.Errorf("%s: answered %d (want %d), %d calls", name, w.Code, tc.code, rec.calls())
		}
	}
}

func httpBody(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func TestInboundHelpTwiML(t *testing.T) {
	rec := &recorder{reply: `Care team <help> & "info": reply STOP to opt out.`}
	w := serve(newInbound(t, rec), signed(t, smsURL, inboundParams("HELP")))
	if w.Code != http.StatusOK {
		t.Fatalf("answered %d", w.Code)
	}
	var resp struct {
		XMLName xml.Name `xml:"Response"`
		Message []string `xml:"Message"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("TwiML %q: %v", w.Body, err)
	}
	if len(resp.Message) != 1 || resp.Message[0] != rec.reply {
		t.Fatalf("TwiML %q decodes to %q", w.Body, resp.Message)
	}
}

func TestInboundReceiverError(t *testing.T) {
	rec := &recorder{err: errors.New("database down")}
	w := serve(newInbound(t, rec), signed(t, smsURL, inboundParams("7")))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("answered %d", w.Code)
	}
}

// With WebhookConfig.Retry, a receiver that fails for a while (a
// database restarting) is called again until it succeeds; one that keeps
// failing gets a 500 once Retry has passed.
func TestWebhookRetry(t *testing.T) {
	rec := &flaky{fails: 3}
	h, err := twiliosms.InboundHandler(rec, twiliosms.WebhookConfig{AuthToken: token, PublicURL: smsURL, Retry: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(h, signed(t, smsURL, inboundParams("7"))); w.Code != http.StatusOK || rec.calls != 4 {
		t.Fatalf("answered %d after %d calls; want 200 after 4", w.Code, rec.calls)
	}
	rec = &flaky{fails: 1000}
	h, err = twiliosms.StatusHandler(rec, twiliosms.WebhookConfig{AuthToken: token, PublicURL: statusURL, Retry: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := url.Values{"MessageSid": {"SM0002"}, "To": {patient}, "From": {ourNumber}, "MessageStatus": {"delivered"}}
	if w := serve(h, signed(t, statusURL, p)); w.Code != http.StatusInternalServerError || rec.calls < 2 || rec.calls > 5 {
		t.Fatalf("answered %d after %d calls; want 500 after 2 to 5", w.Code, rec.calls)
	}
	// A message no one knows is not retried.
	rec = &flaky{fails: 1000, err: outreach.ErrNotFound}
	h, _ = twiliosms.StatusHandler(rec, twiliosms.WebhookConfig{AuthToken: token, PublicURL: statusURL, Retry: 5 * time.Second})
	if w := serve(h, signed(t, statusURL, p)); w.Code != http.StatusNoContent || rec.calls != 1 {
		t.Fatalf("unknown message: answered %d after %d calls", w.Code, rec.calls)
	}
}

// flaky fails its first fails calls with err (default: database down).
type flaky struct {
	fails, calls int
	err          error
}

func (f *flaky) fail() error {
	f.calls++
	if f.calls > f.fails {
		return nil
	}
	if f.err != nil {
		return f.err
	}
	return errors.New("database down")
}

func (f *flaky) HandleInbound(context.Context, outreach.InboundMessage) (string, error) {
	return "", f.fail()
}

func (f *flaky) HandleStatus(context.Context, outreach.StatusUpdate) error { return f.fail() }

// The example in Twilio's webhook-security documentation: token 12345,
// this URL and these parameters sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
func TestSignatureTwilioDocExample(t *testing.T) {
	const (
		docToken = "12345"
		docURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
		docSig   = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	)
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"},
	}
	if got := twiliotest.Sign(docToken, docURL, params); got != docSig {
		t.Fatalf("twiliotest.Sign = %s, want %s", got, docSig)
	}
	rec := &recorder{}
	h, err := twiliosms.StatusHandler(rec, twiliosms.WebhookConfig{AuthToken: docToken, PublicURL: docURL})
	if err != nil {
		t.Fatal(err)
	}
	req := func(sig string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(params.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set(twiliosms.SignatureHeader, sig)
		return r
	}
	// The signature passes; the request is then refused only because a
	// voice webhook carries no MessageSid.
	if w := serve(h, req(docSig)); w.Code != http.StatusBadRequest {
		t.Fatalf("documented signature: answered %d: %s", w.Code, w.Body)
	}
	if w := serve(h, req("1"+docSig[1:])); w.Code != http.StatusForbidden {
		t.Fatalf("altered signature: answered %d", w.Code)
	}
}

func TestStatusHandler(t *testing.T) {
	rec := &recorder{}
	h, err := twiliosms.StatusHandler(rec, twiliosms.WebhookConfig{AuthToken: token, PublicURL: statusURL})
	if err != nil {
		t.Fatal(err)
	}
	p := url.Values{"MessageSid": {"SM0002"}, "To": {patient}, "From": {ourNumber}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}}
	if w := serve(h, signed(t, statusURL, p)); w.Code != http.StatusNoContent {
		t.Fatalf("answered %d", w.Code)
	}
	want := outreach.StatusUpdate{ProviderID: "SM0002", To: patient, Status: "undelivered", ErrorCode: "30003"}
	if len(rec.statuses) != 1 || rec.statuses[0] != want {
		t.Fatalf("handed %+v", rec.statuses)
	}
	// Tampered: nothing called.
	r := signed(t, statusURL, p)
	p.Set("MessageStatus", "delivered")
	r.Body = httpBody(p.Encode())
	if w := serve(h, r); w.Code != http.StatusForbidden || rec.calls() != 1 {
		t.Fatalf("tampered: answered %d, %d calls", w.Code, rec.calls())
	}
	// Unknown message: acknowledged; other errors: 500.
	rec.err = outreach.ErrNotFound
	if w := serve(h, signed(t, statusURL, p)); w.Code != http.StatusNoContent {
		t.Fatalf("unknown message: answered %d", w.Code)
	}
	rec.err = errors.New("database down")
	if w := serve(h, signed(t, statusURL, p)); w.Code != http.StatusInternalServerError {
		t.Fatalf("failure: answered %d", w.Code)
	}
}

func TestWebhookConfig(t *testing.T) {
	rec := &recorder{}
	for _, cfg := range []twiliosms.WebhookConfig{
		{PublicURL: smsURL},
		{AuthToken: token},
		{AuthToken: token, PublicURL: "/twilio/sms"},
	} {
		if _, err := twiliosms.InboundHandler(rec, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
		if _, err := twiliosms.StatusHandler(rec, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestTwiML(t *testing.T) {
	for in, want := range map[string]string{
		"":         xml.Header + "<Response/>",
		"  ":       xml.Header + "<Response/>",
		"a<b & c>": xml.Header + "<Response><Message>a&lt;b &amp; c&gt;</Message></Response>",
	} {
		if got := twiliosms.TwiML(in); got != want {
			t.Errorf("TwiML(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWebhooksRequireFormContentType: Twilio posts webhooks as
// application/x-www-form-urlencoded; a correctly signed body labelled
// anything else is refused with 415 before the receiver is called.
func TestWebhooksRequireFormContentType(t *testing.T) {
	status := url.Values{"MessageSid": {"SM0002"}, "To": {patient}, "From": {ourNumber}, "MessageStatus": {"delivered"}}
	hooks := []struct {
		name   string
		url    string
		params url.Values
		new    func(*recorder) (http.Handler, error)
		ok     int
	}{
		{"inbound", smsURL, inboundParams("7"), func(rec *recorder) (http.Handler, error) {
			return twiliosms.InboundHandler(rec, twiliosms.WebhookConfig{AuthToken: token, PublicURL: smsURL})
		}, http.StatusOK},
		{"status", statusURL, status, func(rec *recorder) (http.Handler, error) {
			return twiliosms.StatusHandler(rec, twiliosms.WebhookConfig{AuthToken: token, PublicURL: statusURL})
		}, http.StatusNoContent},
	}
	for _, tc := range []struct {
		contentType string // "-" removes the header
		code        int    // 0: the hook's success code
	}{
		{"application/x-www-form-urlencoded", 0},
		{"application/x-www-form-urlencoded; charset=utf-8", 0},
		{"Application/X-WWW-Form-Urlencoded; charset=UTF-8", 0},
		{"application/json", http.StatusUnsupportedMediaType},
		{"application/json; charset=utf-8", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded-json", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded; charset", http.StatusUnsupportedMediaType},
		{"", http.StatusUnsupportedMediaType},
		{"-", http.StatusUnsupportedMediaType},
	} {
		for _, hook := range hooks {
			rec := &recorder{}
			h, err := hook.new(rec)
			if err != nil {
				t.Fatal(err)
			}
			r := signed(t, hook.url, hook.params)
			if tc.contentType == "-" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", tc.contentType)
			}
			want, calls := tc.code, 0
			if want == 0 {
				want, calls = hook.ok, 1
			}
			w := serve(h, r)
			if w.Code != want || rec.calls() != calls {
				t.Errorf("%s, Content-Type %q: answered %d (want %d), %d calls (want %d): %s",
					hook.name, tc.contentType, w.Code, want, rec.calls(), calls, w.Body)
			}
		}
	}
}
