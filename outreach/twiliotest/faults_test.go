package twiliotest_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/patient-outreach/sms/outreach/twiliotest"
)

func createParams() *api.CreateMessageParams {
	p := &api.CreateMessageParams{}
	return p.SetFrom(ours).SetTo(ann).SetBody("hi")
}

func TestFault429(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond, Times: 1})
	_, err := f.srv.Client().Api.CreateMessage(createParams())
	restError(t, err, 429, 20429)
	if len(f.srv.Messages()) != 0 || len(f.net.Messages()) != 0 {
		t.Fatal("a 429 processed the message")
	}
	// Times: 1, so the next one goes through.
	if _, err := f.srv.Client().Api.CreateMessage(createParams()); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Requests(twiliotest.CreateMessage); n != 2 {
		t.Fatalf("%d requests counted", n)
	}

	// Retry-After, which twilio-go drops, is on the response.
	f.srv.SetFault(twiliotest.AnyEndpoint, twiliotest.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodPost, "https://api.twilio.com/2010-04-01/Accounts/"+f.srv.AccountSID()+"/Messages.json",
		strings.NewReader(url.Values{"From": {ours}, "To": {ann}, "Body": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.srv.AccountSID(), f.srv.AuthToken())
	resp, err := f.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("answer %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	_, err = f.srv.Client().Api.FetchMessage("SM1", nil)
	restError(t, err, 429, 20429)
	f.srv.ClearFaults()
	_, err = f.srv.Client().Api.FetchMessage("SM1", nil)
	restError(t, err, 404, 20404)
}

func TestFault500(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{Status: 500})
	_, err := f.srv.Client().Api.CreateMessage(createParams())
	restError(t, err, 500, 20500)
	if len(f.srv.Messages()) != 0 {
		t.Fatal("a 500 stored the message")
	}
	f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{})
	if _, err := f.srv.Client().Api.CreateMessage(createParams()); err != nil {
		t.Fatal(err)
	}
}

func TestFaultHijackAfterAccept(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	f.srv.SetFault(twiliotest.CreateMessage, twiliotest.Fault{Hijack: true, Times: 1})
	_, err := f.srv.Client().Api.CreateMessage(createParams())
	var re *client.TwilioRestError
	if err == nil || errors.As(err, &re) {
		t.Fatalf("err = %v, want a transport error", err)
	}
	msgs := f.srv.Messages()
	if len(msgs) != 1 || len(f.net.Messages()) != 1 || msgs[0].To != ann {
		t.Fatalf("the hijacked create stored %d messages, the network got %d; want 1 and 1", len(msgs), len(f.net.Messages()))
	}
	// The caller reconciles by listing: the message is there.
	found, err := f.srv.Client().Api.ListMessage(&api.ListMessageParams{To: ptr(ann), From: ptr(ours)})
	if err != nil || len(found) != 1 || *found[0].Sid != msgs[0].SID {
		t.Fatalf("lookup after hijack: %v, %v", found, err)
	}
}

func TestFaultLatency(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	f.srv.SetFault(twiliotest.FetchMessage, twiliotest.Fault{Latency: 100 * time.Millisecond})
	t0 := time.Now()
	_, err := f.srv.Client().Api.FetchMessage("SM1", nil)
	restError(t, err, 404, 20404)
	if d := time.Since(t0); d < 100*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
	// A client timeout shorter than the latency fails, and the server
	// does not keep the request running.
	f.srv.SetFault(twiliotest.FetchMessage, twiliotest.Fault{Latency: time.Minute})
	c := f.srv.Client()
	c.SetTimeout(50 * time.Millisecond)
	t0 = time.Now()
	if _, err := c.Api.FetchMessage("SM1", nil); err == nil {
		t.Fatal("no timeout")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("timed out after %v", d)
	}
}

func TestFaultMix(t *testing.T) {
	f := newFixture(t, twiliotest.Options{Seed: 3})
	f.srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Status: 429, Probability: 0.10})
	f.srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Status: 500, Probability: 0.05})
	f.srv.AddFault(twiliotest.CreateMessage, twiliotest.Fault{Hijack: true, Probability: 0.02})
	const n = 2000
	var got429, got500, dropped, ok int
	for range n {
		_, err := f.srv.Client().Api.CreateMessage(createParams())
		var re *client.TwilioRestError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &re) && re.Status == 429 && re.Code == 20429:
			got429++
		case errors.As(err, &re) && re.Status == 500 && re.Code == 20500:
			got500++
		case !errors.As(err, &re):
			dropped++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	counts := f.srv.FaultCounts(twiliotest.CreateMessage)
	if counts[0] != got429 || counts[1] != got500 || counts[2] != dropped {
		t.Fatalf("FaultCounts = %v; the client saw %d, %d, %d", counts, got429, got500, dropped)
	}
	near := func(name string, got int, p float64) {
		if want := p * n; float64(got) < want*0.6 || float64(got) > want*1.4 {
			t.Errorf("%s: %d of %d requests; want about %.0f", name, got, n, want)
		}
	}
	near("429", got429, 0.10)
	near("500", got500, 0.05)
	near("dropped", dropped, 0.02)
	// A dropped request was processed: the fake holds the message.
	if m := len(f.srv.Messages()); m != ok+dropped {
		t.Errorf("the fake holds %d messages; want %d answered and %d dropped", m, ok, dropped)
	}
	if r := f.srv.Requests(twiliotest.CreateMessage); r != n {
		t.Errorf("Requests = %d; want %d", r, n)
	}
}
