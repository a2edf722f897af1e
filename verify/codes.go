package verify

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// CodeSender sends one-time codes and checks them, in the shape of Twilio
// Verify, which generates, delivers, expires and checks codes itself.
//
// SendCode sends a fresh code to the phone number to (E.164); a new code
// replaces any pending one. CheckCode reports whether code is the pending
// code of to: (true, nil) approves it and uses it up; (false, nil) means a
// wrong code; an error matching [ErrExpired] means there is no pending
// code (expired, already used, or voided after too many checks). Any
// other error is a failure of the sender. Errors must not contain the
// code; they should not contain the phone number.
type CodeSender interface {
	SendCode(ctx context.Context, to string) error
	CheckCode(ctx context.Context, to, code string) (approved bool, err error)
}

// Limits of [LocalCodes], the same as Twilio Verify's defaults.
const (
	CodeTTL       = 10 * time.Minute
	MaxCodeChecks = 5
	codeDigits    = 6
)

// LocalCodes is a [CodeSender] for development and tests: it generates
// 6-digit codes with crypto/rand and hands each to Notify instead of
// sending an SMS. A code expires [CodeTTL] after it was sent, works once,
// and is void after [MaxCodeChecks] checks. The zero value is not usable:
// set Notify. It is safe for concurrent use.
type LocalCodes struct {
	// Notify receives each code. The web app's dev mode prints it to
	// stderr for the operator; never pass it to a logger. Required.
	Notify func(to, code string)
	// Clock measures expiry; nil means the system clock.
	Clock outreach.Clock

	mu    sync.Mutex
	codes map[string]*localCode
}

type localCode struct {
	code    string
	expires time.Time
	checks  int
}

var _ CodeSender = (*LocalCodes)(nil)

func (l *LocalCodes) now() time.Time {
	if l.Clock == nil {
		return time.Now()
	}
	return l.Clock.Now()
}

// SendCode generates a code for to, replacing any pending one, and passes
// it to Notify.
func (l *LocalCodes) SendCode(ctx context.Context, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.Notify == nil {
		return errors.New("verify: LocalCodes has no Notify function to hand codes to")
	}
	if to == "" {
		return errors.New("verify: no phone number to send the code to")
	}
	code, err := randomCode()
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.codes == nil {
		l.codes = make(map[string]*localCode)
	}
	now := l.now()
	for k, c := range l.codes { // drop expired codes: the map stays small
		if !now.Before(c.expires) {
			delete(l.codes, k)
		}
	}
	l.codes[to] = &localCode{code: code, expires: now.Add(CodeTTL)}
	l.mu.Unlock()
	l.Notify(to, code)
	return nil
}

// CheckCode checks code against the pending code of to.
func (l *LocalCodes) CheckCode(ctx context.Context, to, code string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.codes[to]
	if !ok {
		return false, ErrExpired
	}
	if !l.now().Before(c.expires) {
		delete(l.codes, to)
		return false, ErrExpired
	}
	c.checks++
	if subtle.ConstantTimeCompare([]byte(code), []byte(c.code)) == 1 {
		delete(l.codes, to)
		return true, nil
	}
	if c.checks >= MaxCodeChecks {
		delete(l.codes, to)
	}
	return false, nil
}

// randomCode returns a uniformly random code of codeDigits decimal digits.
func randomCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("verify: generating a code: %w", err)
	}
	return fmt.Sprintf("%0*d", codeDigits, n.Int64()), nil
}
