package simphone

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// ErrInjected is wrapped by every error that a [Fault] causes.
var ErrInjected = errors.New("simphone: injected fault")

// Fault is a failure that a [Sender] injects into a Send call.
type Fault struct {
	// Kind is the failure: outreach.Retryable (like HTTP 429: the message
	// is not submitted), outreach.Permanent, or outreach.Ambiguous (any
	// other non-zero kind is taken as Ambiguous). Zero means no fault.
	Kind outreach.SendErrorKind
	// Accepted makes an Ambiguous fault happen after the network accepted
	// the message: the phone receives it and may answer, yet Send reports
	// Ambiguous, as when the connection drops after the provider accepted
	// the request. Without it, nothing is submitted.
	Accepted bool
	// RetryAfter is reported with a Retryable fault.
	RetryAfter time.Duration
	// Code is the provider error code reported; empty means "20429" for a
	// Retryable fault and none otherwise.
	Code string
}

// Sender is an [outreach.Sender] that delivers to a [Network], with fault
// injection for tests of the runner's at-most-once guarantee. It is safe
// for concurrent use.
type Sender struct {
	net *Network

	mu    sync.Mutex
	next  []Fault
	fault func(outreach.OutboundMessage) Fault
}

var _ outreach.Sender = (*Sender)(nil)

// NewSender returns a Sender that delivers to net.
func NewSender(net *Network) *Sender { return &Sender{net: net} }

// Network returns the network the sender delivers to.
func (s *Sender) Network() *Network { return s.net }

// FailNext makes the next count calls of Send fail with f, in turn, before
// any fault set with [Sender.SetFaults]. Calls add up: FailNext(1, a)
// then FailNext(2, b) fails the next three calls, with a, b, b.
func (s *Sender) FailNext(count int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range count {
		s.next = append(s.next, f)
	}
}

// SetFaults makes Send ask fn which fault to inject for each message
// (a zero Fault for none), once the faults of [Sender.FailNext] are used
// up. nil removes the hook. fn must not call the Sender.
func (s *Sender) SetFaults(fn func(outreach.OutboundMessage) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = fn
}

func (s *Sender) nextFault(m outreach.OutboundMessage) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.next) > 0 {
		f := s.next[0]
		s.next = s.next[1:]
		return f
	}
	if s.fault != nil {
		return s.fault(m)
	}
	return Fault{}
}

// Send delivers m with [Network.Deliver], unless a fault is injected.
func (s *Sender) Send(ctx context.Context, m outreach.OutboundMessage) (string, error) {
	f := s.nextFault(m)
	switch f.Kind {
	case 0:
		return s.net.Deliver(ctx, m)
	case outreach.Retryable:
		code := f.Code
		if code == "" {
			code = "20429"
		}
		return "", &outreach.SendError{Kind: outreach.Retryable, Code: code, Reason: "too many requests (injected)", RetryAfter: f.RetryAfter, Err: ErrInjected}
	case outreach.Permanent:
		return "", &outreach.SendError{Kind: outreach.Permanent, Code: f.Code, OptedOut: f.Code == CodeOptedOut, Reason: "refused (injected)", Err: ErrInjected}
	}
	if f.Accepted {
		if _, err := s.net.Deliver(ctx, m); err != nil {
			return "", err
		}
		return "", &outreach.SendError{Kind: outreach.Ambiguous, Code: f.Code, Reason: "connection lost after the message was accepted (injected)", Err: ErrInjected}
	}
	return "", &outreach.SendError{Kind: outreach.Ambiguous, Code: f.Code, Reason: "connection lost before the message was accepted (injected)", Err: ErrInjected}
}

// Lookup reports whether the network accepted a message to m.To from
// m.From with m.Body at or after intentAt, the way a Twilio sender
// reconciles (Twilio has no idempotency key), and returns its SID.
func (s *Sender) Lookup(ctx context.Context, m outreach.OutboundMessage, intentAt time.Time) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	msg, ok := s.net.Find(m.To, m.From, m.Body, intentAt)
	return msg.SID, ok, nil
}
