package outreach_test

import (
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

func TestAsEnqueued(t *testing.T) {
	const from, to = "+15005550006", "+14406443709"
	for _, tc := range []struct {
		name         string
		m            outreach.Message
		done, purged bool
		want         outreach.Message
	}{
		{"defaults", outreach.Message{Body: "hi"}, false, false,
			outreach.Message{Direction: outreach.Outbound, From: from, To: to, Body: "hi", Status: outreach.MessageQueued}},
		{"its own numbers and status", outreach.Message{From: "+15005550001", To: "+14406440000", Body: "hi", Status: outreach.MessageSending}, false, false,
			outreach.Message{Direction: outreach.Outbound, From: "+15005550001", To: "+14406440000", Body: "hi", Status: outreach.MessageSending}},
		{"done: queued is cancelled", outreach.Message{Body: "hi"}, true, false,
			outreach.Message{Direction: outreach.Outbound, From: from, To: to, Body: "hi", Status: outreach.MessageCancelled}},
		{"done: sent stays sent", outreach.Message{Body: "hi", Status: outreach.MessageSent}, true, false,
			outreach.Message{Direction: outreach.Outbound, From: from, To: to, Body: "hi", Status: outreach.MessageSent}},
		{"purged: no body", outreach.Message{Body: "hi"}, true, true,
			outreach.Message{Direction: outreach.Outbound, From: from, To: to, Status: outreach.MessageCancelled}},
	} {
		if got := tc.m.AsEnqueued(from, to, tc.done, tc.purged); got != tc.want {
			t.Errorf("%s: AsEnqueued = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
