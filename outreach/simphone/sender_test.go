package simphone

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

func TestSenderFaults(t *testing.T) {
	const q = "How is your pain, 0-10?"
	tests := []struct {
		name       string
		fault      Fault
		wantKind   outreach.SendErrorKind // 0: accepted
		wantCode   string
		wantRetry  time.Duration
		wantStored bool // the phone got the message
	}{
		{"none", Fault{}, 0, "", 0, true},
		{"retryable", Fault{Kind: outreach.Retryable, RetryAfter: 3 * time.Second}, outreach.Retryable, "20429", 3 * time.Second, false},
		{"permanent", Fault{Kind: outreach.Permanent, Code: "21614"}, outreach.Permanent, "21614", 0, false},
		{"ambiguous before accept", Fault{Kind: outreach.Ambiguous}, outreach.Ambiguous, "", 0, false},
		{"ambiguous after accept", Fault{Kind: outreach.Ambiguous, Accepted: true}, outreach.Ambiguous, "", 0, true},
		{"unknown kind is ambiguous", Fault{Kind: 99}, outreach.Ambiguous, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			net, clock := newNet(1)
			p := net.Add(ann, Persona{Responder: Scripted("7")})
			s := NewSender(net)
			s.FailNext(1, tt.fault)
			m := msg(ann, q, 1)
			intent := clock.Now()
			sid, err := s.Send(ctx, m)
			if tt.wantKind == 0 {
				if err != nil || sid == "" {
					t.Fatalf("Send = %q, %v; want accepted", sid, err)
				}
			} else {
				var se *outreach.SendError
				if !errors.As(err, &se) || se.Kind != tt.wantKind || se.Code != tt.wantCode || se.RetryAfter != tt.wantRetry || !errors.Is(err, ErrInjected) {
					t.Fatalf("Send = %q, %v; want %v code %q retry after %v", sid, err, tt.wantKind, tt.wantCode, tt.wantRetry)
				}
			}
			stored := len(p.Inbox()) == 1
			if stored != tt.wantStored {
				t.Errorf("phone got the message: %v, want %v", stored, tt.wantStored)
			}
			if _, ok := net.NextDue(); ok != tt.wantStored {
				t.Errorf("reply scheduled: %v, want %v", ok, tt.wantStored)
			}
			lsid, found, err := s.Lookup(ctx, m, intent)
			if err != nil || found != tt.wantStored {
				t.Fatalf("Lookup = %q, %v, %v; want found %v", lsid, found, err, tt.wantStored)
			}
			if found && lsid != p.Inbox()[0].SID {
				t.Errorf("Lookup SID %q, want %q", lsid, p.Inbox()[0].SID)
			}
			// The fault was used once: the next send goes through.
			if _, err := s.Send(ctx, msg(ann, "Anything else?", 2)); err != nil {
				t.Errorf("second Send: %v", err)
			}
			wantCount := 0
			if tt.wantStored {
				wantCount = 1
			}
			if got := net.CountByKey()[m.Key]; got != wantCount {
				t.Errorf("CountByKey[%v] = %d, want %d", m.Key, got, wantCount)
			}
		})
	}
}

func TestSenderFailNextOrder(t *testing.T) {
	net, _ := newNet(1)
	net.Add(ann, Persona{Silent: true})
	s := NewSender(net)
	s.FailNext(1, Fault{Kind: outreach.Permanent})
	s.FailNext(2, Fault{Kind: outreach.Retryable})
	s.SetFaults(func(m outreach.OutboundMessage) Fault {
		if m.Key.Attempt == 2 {
			return Fault{Kind: outreach.Ambiguous}
		}
		return Fault{}
	})
	want := []outreach.SendErrorKind{outreach.Permanent, outreach.Retryable, outreach.Retryable, 0, outreach.Ambiguous}
	for i, w := range want {
		m := msg(ann, "Hello", int64(i))
		if i == 4 {
			m.Key.Attempt = 2
		}
		_, err := s.Send(context.Background(), m)
		var got outreach.SendErrorKind
		if err != nil {
			got = outreach.ClassifySendError(err).Kind
		}
		if got != w {
			t.Errorf("send %d: kind %v, want %v (err %v)", i, got, w, err)
		}
	}
	s.SetFaults(nil)
	if _, err := s.Send(context.Background(), msg(ann, "Hello", 9)); err != nil {
		t.Errorf("after SetFaults(nil): %v", err)
	}
}

func TestSenderLookup(t *testing.T) {
	ctx := context.Background()
	net, clock := newNet(1)
	net.Add(ann, Persona{Silent: true})
	s := NewSender(net)
	m := msg(ann, "Hello", 1)
	sid, err := s.Send(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	at := clock.Now()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	other := func(f func(*outreach.OutboundMessage)) outreach.OutboundMessage { c := m; f(&c); return c }
	tests := []struct {
		name   string
		ctx    context.Context
		m      outreach.OutboundMessage
		intent time.Time
		found  bool
		err    bool
	}{
		{"same message", ctx, m, at, true, false},
		{"intent before", ctx, m, at.Add(-time.Minute), true, false},
		{"intent after", ctx, m, at.Add(time.Second), false, false},
		{"other body", ctx, other(func(c *outreach.OutboundMessage) { c.Body = "Bye" }), at, false, false},
		{"other sender", ctx, other(func(c *outreach.OutboundMessage) { c.From = "+15005550009" }), at, false, false},
		{"other phone", ctx, other(func(c *outreach.OutboundMessage) { c.To = bob }), at, false, false},
		{"key is not used", ctx, other(func(c *outreach.OutboundMessage) { c.Key.Attempt = 5 }), at, true, false},
		{"cancelled", cancelled, m, at, false, true},
	}
	for _, tt := range tests {
		got, found, err := s.Lookup(tt.ctx, tt.m, tt.intent)
		if found != tt.found || (err != nil) != tt.err || found && got != sid {
			t.Errorf("%s: Lookup = %q, %v, %v; want found %v, error %v", tt.name, got, found, err, tt.found, tt.err)
		}
	}
}
