package twiliotest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// twimlHook answers every incoming-message webhook with answer (TwiML)
// and records the bodies it was sent.
func twimlHook(t *testing.T, answer func(body string) string) (*httptest.Server, func() []string) {
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		mu.Lock()
		got = append(got, form.Get("Body"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, answer(form.Get("Body")))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// textAndStep makes phone text body to our number and delivers it.
func textAndStep(t *testing.T, f *fixture, phone *simphone.Phone, body string) {
	t.Helper()
	phone.Text(ours, body)
	if err := f.srv.Step(context.Background(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// lastInbox returns the body of the last message the phone received.
func lastInbox(phone *simphone.Phone) string {
	in := phone.Inbox()
	if len(in) == 0 {
		return ""
	}
	return in[len(in)-1].Body
}

// TestOptOutKeywords: the fake answers STOP (and its synonyms) and START
// (and YES after a STOP) with Twilio's default confirmations, refuses
// messages to an opted-out number with 21610 meanwhile, and still
// forwards every keyword to the number's webhook.
func TestOptOutKeywords(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	hook, bodies := twimlHook(t, func(string) string { return "<Response/>" })
	f.srv.SetSmsURL(ours, hook.URL)
	carol := f.net.Add("+14155550102", simphone.Persona{Silent: true})

	for _, stop := range []string{"STOP", "stopall", "Unsubscribe", "cancel", "END", "quit", " Stop. "} {
		textAndStep(t, f, carol, stop)
		if got := lastInbox(carol); got != twiliotest.OptOutConfirmation {
			t.Fatalf("after %q the phone's last message is %q; want the opt-out confirmation", stop, got)
		}
		if !f.srv.OptedOut(ours, carol.Number()) {
			t.Fatalf("after %q the number is not opted out", stop)
		}
		p := &api.CreateMessageParams{}
		p.SetFrom(ours).SetTo(carol.Number()).SetBody("Are you there?")
		_, err := f.srv.Client().Api.CreateMessage(p)
		restError(t, err, 400, 21610)
		for _, start := range []string{"START", "unstop", "yes"} {
			if start != "START" {
				textAndStep(t, f, carol, "STOP")
			}
			textAndStep(t, f, carol, start)
			if got := lastInbox(carol); got != twiliotest.OptInConfirmation {
				t.Fatalf("after %q the phone's last message is %q; want the opt-in confirmation", start, got)
			}
			if f.srv.OptedOut(ours, carol.Number()) || carol.OptedOut(ours) {
				t.Fatalf("after %q the number is still opted out", start)
			}
		}
		send(t, f, carol.Number(), "Welcome back.")
	}
	// YES from a number that did not opt out is an answer like any other.
	n := len(carol.Inbox())
	textAndStep(t, f, carol, "YES")
	if len(carol.Inbox()) != n {
		t.Fatalf("YES from a subscribed number was answered: %q", lastInbox(carol))
	}
	if got := bodies(); len(got) != 7*6+1 || got[0] != "STOP" || got[len(got)-1] != "YES" {
		t.Fatalf("the webhook got %d texts %q; want every keyword forwarded", len(got), got)
	}
	replies := 0
	for _, m := range f.srv.Messages() {
		if m.Direction == "outbound-reply" {
			replies++
			if m.From != ours || m.To != carol.Number() || m.StatusCallback != "" {
				t.Fatalf("confirmation %+v", m)
			}
		}
	}
	if replies != 7*6 {
		t.Fatalf("%d confirmations recorded; want %d", replies, 7*6)
	}
}

// TestTwiMLReply: the <Message> of a webhook's TwiML answer (the HELP
// text of an application) is sent to the phone that texted, as Twilio
// does; to a number that opted out it is recorded failed with 21610.
func TestTwiMLReply(t *testing.T) {
	const help = "Care team messages. Reply STOP to opt out. Msg&amp;data rates may apply."
	f := newFixture(t, twiliotest.Options{})
	hook, _ := twimlHook(t, func(body string) string {
		if body == "HELP" {
			return `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response><Message>" + help + "</Message></Response>"
		}
		return "<Response/>"
	})
	f.srv.SetSmsURL(ours, hook.URL)
	carol := f.net.Add("+14155550102", simphone.Persona{Silent: true})

	textAndStep(t, f, carol, "HELP")
	if got, want := lastInbox(carol), "Care team messages. Reply STOP to opt out. Msg&data rates may apply."; got != want {
		t.Fatalf("after HELP the phone's last message is %q; want %q", got, want)
	}
	textAndStep(t, f, carol, "hello")
	if in := carol.Inbox(); len(in) != 2 || in[0].Body != twiliotest.HelpResponse {
		t.Fatalf("want Twilio's HELP answer, then the application's, and nothing for an empty <Response/>: %+v", in)
	}
	textAndStep(t, f, carol, "STOP")
	textAndStep(t, f, carol, "HELP")
	if got := lastInbox(carol); got != twiliotest.OptOutConfirmation {
		t.Fatalf("an opted-out phone got %q", got)
	}
	msgs := f.srv.Messages()
	last := msgs[len(msgs)-1]
	if last.Direction != "outbound-reply" || last.Status != "failed" || last.ErrorCode != 21610 {
		t.Fatalf("the TwiML reply to an opted-out number: %+v", last)
	}

	// A webhook that answers something else than TwiML is an error.
	bad, _ := twimlHook(t, func(string) string { return "not xml <" })
	f.srv.SetSmsURL(ours, bad.URL)
	carol.Text(ours, "hi")
	if err := f.srv.Step(context.Background(), f.clock.Now()); err == nil {
		t.Fatal("a webhook answer that is not TwiML was taken")
	}
}

// TestHelpKeyword: HELP and INFO get Twilio's default answer (and still
// reach the webhook), except from a phone that opted out; HELP within a
// sentence is no keyword.
func TestHelpKeyword(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	hook, bodies := twimlHook(t, func(string) string { return "<Response/>" })
	f.srv.SetSmsURL(ours, hook.URL)
	carol := f.net.Add("+14155550102", simphone.Persona{Silent: true})

	for i, tc := range []struct {
		body   string
		answer string // "" for none
	}{
		{"HELP", twiliotest.HelpResponse},
		{"info", twiliotest.HelpResponse},
		{" Help! ", twiliotest.HelpResponse},
		{"help me please", ""},
		{"STOP", twiliotest.OptOutConfirmation},
		{"HELP", ""}, // opted out: no answer
		{"INFO", ""},
		{"START", twiliotest.OptInConfirmation},
		{"HELP", twiliotest.HelpResponse},
	} {
		n := len(carol.Inbox())
		textAndStep(t, f, carol, tc.body)
		in := carol.Inbox()
		switch {
		case tc.answer == "" && len(in) != n:
			t.Fatalf("%d: %q was answered %q", i, tc.body, in[len(in)-1].Body)
		case tc.answer != "" && (len(in) != n+1 || in[n].Body != tc.answer):
			t.Fatalf("%d: %q: inbox %+v; want one answer %q", i, tc.body, in[n:], tc.answer)
		}
	}
	if got := bodies(); len(got) != 9 {
		t.Fatalf("the webhook got %d texts; want every one of the 9", len(got))
	}
	if f.srv.OptedOut(ours, carol.Number()) {
		t.Fatal("HELP changed the opt-out")
	}
}
