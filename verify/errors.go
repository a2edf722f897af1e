package verify

import (
	"errors"
	"fmt"
	"time"
)

// The outcomes of a login step that the web layer tells apart with
// [errors.Is]. None of them says whether the account name or the password
// was wrong, and none carries the password, the code or the challenge.
var (
	// ErrWrongPassword: the account name or the password is wrong.
	ErrWrongPassword = errors.New("verify: wrong account name or password")
	// ErrWrongCode: the one-time code is wrong; the user may try again
	// with the same challenge until the code is used up.
	ErrWrongCode = errors.New("verify: wrong code")
	// ErrExpired: the code or the challenge has expired, was already
	// used, or was voided after too many wrong codes. Log in again.
	ErrExpired = errors.New("verify: the code has expired or was already used; log in again")
	// ErrLockedOut: too many failed attempts. The error is a
	// [*LockedOutError] that says when to try again.
	ErrLockedOut = errors.New("verify: too many failed attempts")
)

// LockedOutError is returned while an account or a client address is
// locked out after too many failed attempts. It matches [ErrLockedOut]. It
// does not say which of the two is locked.
type LockedOutError struct {
	// Until is when the lockout lifts.
	Until time.Time
	// RetryAfter is how long until then, from the time of the attempt.
	RetryAfter time.Duration
}

func (e *LockedOutError) Error() string {
	return fmt.Sprintf("%v; try again in %v", ErrLockedOut, e.RetryAfter.Round(time.Second))
}

// Is reports whether target is [ErrLockedOut].
func (e *LockedOutError) Is(target error) bool { return target == ErrLockedOut }

// SenderError is returned when the [CodeSender] failed to send or check a
// code (Twilio unreachable, misconfigured, ...). It wraps the sender's
// error. The attempt is still counted.
type SenderError struct {
	// Op is "send" or "check".
	Op  string
	Err error
}

func (e *SenderError) Error() string {
	return fmt.Sprintf("verify: the code sender failed to %s the code: %v", e.Op, e.Err)
}

func (e *SenderError) Unwrap() error { return e.Err }

// MaxServiceNameLen is the longest friendly name Twilio accepts for a
// Verify service.
const MaxServiceNameLen = 32

// ErrTooManyCodes is returned by a CodeSender (twilioverify.Codes.SendCode) when Twilio
// refuses to send another code for the pending verification (HTTP 429,
// code 60203: at most 5 sends). The limit lifts when the verification
// expires, 10 minutes after the first code. Through [Login] it arrives
// wrapped in a [*SenderError]: test it with [errors.Is].
var ErrTooManyCodes = errors.New("verify: too many codes sent to this phone; wait 10 minutes before asking for another")
