package outreach

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OutboundMessage is what the runner asks a [Sender] to submit.
type OutboundMessage struct {
	// Key identifies the message for life; a Sender may use it to tag the
	// message with the provider.
	Key  SendKey
	From string
	To   string
	Body string
	// ValidUntil is the end of the recipient's current sending window; a
	// provider that supports it should drop the message if it cannot be
	// delivered by then. Zero means no limit.
	ValidUntil time.Time
}

// Sender submits messages to a provider (Twilio, simulated phones, ...).
// Senders never throttle: the runner does. They report what happened with
// a nil error (accepted) or a *SendError (see [SendErrorKind]); any other
// error is treated as ambiguous.
type Sender interface {
	// Send submits m and returns the provider's id for it.
	Send(ctx context.Context, m OutboundMessage) (providerID string, err error)
	// Lookup reports whether the provider accepted m, whose intent was
	// recorded at intentAt (the message cannot have been created before).
	// The runner calls it after a crash or an ambiguous outcome, and sends
	// again only when found is false.
	Lookup(ctx context.Context, m OutboundMessage, intentAt time.Time) (providerID string, found bool, err error)
}

// SendErrorKind classifies a failed submission.
type SendErrorKind int

// Send error kinds.
const (
	// Permanent: the provider refused the message for good (invalid number,
	// opted out, ...). The conversation ends.
	Permanent SendErrorKind = iota + 1
	// Retryable: the provider did not process the message (HTTP 429, ...);
	// it is safe to submit again after RetryAfter.
	Retryable
	// Ambiguous: the provider may or may not have accepted the message
	// (timeout or connection lost after submit). The runner reconciles with
	// [Sender.Lookup] and never blindly re-sends.
	Ambiguous
)

func (k SendErrorKind) String() string {
	switch k {
	case Permanent:
		return "permanent"
	case Retryable:
		return "retryable"
	case Ambiguous:
		return "ambiguous"
	}
	return fmt.Sprintf("SendErrorKind(%d)", int(k))
}

// SendError is a typed send failure. Reason and Code must not hold PHI.
type SendError struct {
	Kind SendErrorKind
	// Code is the provider's error code, such as "21610".
	Code string
	// Reason says why, in words for an operator.
	Reason string
	// OptedOut is true when the failure means the recipient opted out
	// (Twilio error 21610); the number is then suppressed everywhere.
	OptedOut bool
	// RetryAfter is how long to wait before retrying (Retryable); zero lets
	// the runner choose its backoff.
	RetryAfter time.Duration
	// Err is the underlying error, if any.
	Err error
}

func (e *SendError) Error() string {
	msg := "send " + e.Kind.String()
	if e.Code != "" {
		msg += " (code " + e.Code + ")"
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SendError) Unwrap() error { return e.Err }

// ClassifySendError returns err as a *SendError: itself if it is one (or
// wraps one), else an Ambiguous SendError wrapping it, since an unknown
// failure may have happened after the provider accepted the message.
func ClassifySendError(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return &SendError{Kind: Ambiguous, Reason: "unclassified send error", Err: err}
}

// InboundMessage is an SMS received from a patient.
type InboundMessage struct {
	// From is the patient's number (E.164).
	From string
	// To is our sending number that received it.
	To   string
	Body string
	// ProviderID is the provider's id (Twilio's MessageSid); a webhook
	// retried with the same id has one effect.
	ProviderID string
	ReceivedAt time.Time
}

// Limiter throttles sends per key (the sending number). The runner is its
// only caller: senders never throttle. A shared implementation can replace
// the in-process default ([NewRateLimiter]) when several processes send.
type Limiter interface {
	// Allow reports whether one message may be sent for key at now. It
	// consumes the allowance when it says yes; when it says no, retryAt is
	// the earliest time worth asking again.
	Allow(ctx context.Context, key string, now time.Time) (ok bool, retryAt time.Time, err error)
}

// Clock tells the time. The runner, quiet hours, timeouts and the throttle
// all read it, so tests and simulations can drive time by hand
// (see [ManualClock]).
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
