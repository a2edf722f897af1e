package twiliotest_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

var start = time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC)

const (
	ours   = "+15005550006"
	ann    = "+14155550100"
	bob    = "+14155550101"
	nobody = "+14155550199"
)

// fixture is a fake on a manual clock with two phones and one number.
type fixture struct {
	clock *outreach.ManualClock
	net   *simphone.Network
	srv   *twiliotest.Server
}

func newFixture(t *testing.T, opts twiliotest.Options) *fixture {
	t.Helper()
	clock := outreach.NewManualClock(start)
	net := simphone.New(clock, 1)
	net.Add(ann, simphone.Persona{Responder: simphone.Scripted("7")})
	net.Add(bob, simphone.Persona{Undeliverable: true})
	opts.Clock, opts.Network = clock, net
	opts.Numbers = append(opts.Numbers, ours)
	srv := twiliotest.New(opts)
	t.Cleanup(srv.Close)
	return &fixture{clock: clock, net: net, srv: srv}
}

// restError asserts err is a Twilio error with this status and code.
func restError(t *testing.T, err error, status, code int) {
	t.Helper()
	var re *client.TwilioRestError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T), want a TwilioRestError %d/%d", err, err, status, code)
	}
	if re.Status != status || re.Code != code || re.Message == "" || re.MoreInfo == "" {
		t.Fatalf("error %+v, want status %d code %d with message and more_info", re, status, code)
	}
}

// hook is a webhook receiver that checks signatures with twilio-go's
// validator and the form content type (as twiliosms's handlers do), and
// records the form of each valid request.
type hook struct {
	t     *testing.T
	token string
	srv   *httptest.Server
	mu    sync.Mutex
	got   []url.Values
	bad   int
	ch    chan url.Values
}

func newHook(t *testing.T, token string) *hook {
	h := &hook{t: t, token: token, ch: make(chan url.Values, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v := client.NewRequestValidator(h.token)
		fullURL := h.srv.URL + r.URL.RequestURI()
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			!v.ValidateBody(fullURL, body, r.Header.Get(twiliotest.SignatureHeader)) {
			h.bad++
			w.WriteHeader(http.StatusForbidden)
			return
		}
		form, _ := url.ParseQuery(string(body))
		h.got = append(h.got, form)
		h.ch <- form
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, "<Response/>")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) received() ([]url.Values, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]url.Values(nil), h.got...), h.bad
}

func newValidator(token string) *client.RequestValidator {
	v := client.NewRequestValidator(token)
	return &v
}
