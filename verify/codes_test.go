package verify_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/verify"
)

var t0 = time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)

// inbox collects the codes a LocalCodes hands out.
type inbox struct {
	mu    sync.Mutex
	codes map[string][]string
}

func (in *inbox) notify(to, code string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.codes == nil {
		in.codes = make(map[string][]string)
	}
	in.codes[to] = append(in.codes[to], code)
}

func (in *inbox) last(t *testing.T, to string) string {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.codes[to]
	if len(c) == 0 {
		t.Fatalf("no code sent to %s", to)
	}
	return c[len(c)-1]
}

func (in *inbox) count(to string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.codes[to])
}

const phone = "+14155550100"

// otherCode returns a 6-digit code different from code.
func otherCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestLocalCodes(t *testing.T) {
	ctx := context.Background()
	type step struct {
		advance time.Duration
		send    bool   // send a new code
		code    string // "right", "wrong" or "" (when send)
		want    bool
		wantErr error
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"right", []step{{send: true}, {code: "right", want: true}}},
		{"used twice", []step{{send: true}, {code: "right", want: true}, {code: "right", wantErr: verify.ErrExpired}}},
		{"never sent", []step{{code: "wrong", wantErr: verify.ErrExpired}}},
		{"wrong then right", []step{{send: true}, {code: "wrong"}, {code: "wrong"}, {code: "right", want: true}}},
		{"right on the 5th check", []step{{send: true}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"}, {code: "right", want: true}}},
		{"void after 5 checks", []step{{send: true}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"},
			{code: "right", wantErr: verify.ErrExpired}}},
		{"just before expiry", []step{{send: true}, {advance: verify.CodeTTL - time.Nanosecond, code: "right", want: true}}},
		{"expired", []step{{send: true}, {advance: verify.CodeTTL, code: "right", wantErr: verify.ErrExpired}}},
		{"new code replaces the old", []step{{send: true}, {code: "wrong"}, {send: true}, {code: "right", want: true}}},
		{"new code restarts expiry", []step{{send: true}, {advance: 9 * time.Minute, send: true}, {advance: 9 * time.Minute, code: "right", want: true}}},
		{"new code restarts checks", []step{{send: true}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"},
			{send: true}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"}, {code: "wrong"}, {code: "right", want: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := outreach.NewManualClock(t0)
			var in inbox
			l := &verify.LocalCodes{Notify: in.notify, Clock: clk}
			var old string
			for i, s := range tc.steps {
				clk.Advance(s.advance)
				if s.send {
					if in.count(phone) > 0 {
						old = in.last(t, phone)
					}
					if err := l.SendCode(ctx, phone); err != nil {
						t.Fatalf("step %d: SendCode: %v", i, err)
					}
					continue
				}
				right := ""
				if in.count(phone) > 0 {
					right = in.last(t, phone)
				}
				code := right
				if s.code == "wrong" {
					code = otherCode(right)
					if old != "" && old != right {
						code = old // the replaced code no longer works
					}
				}
				got, err := l.CheckCode(ctx, phone, code)
				if got != s.want || !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: CheckCode(%s) = %v, %v; want %v, %v", i, s.code, got, err, s.want, s.wantErr)
				}
			}
		})
	}
}

func TestLocalCodesFormat(t *testing.T) {
	ctx := context.Background()
	var in inbox
	l := &verify.LocalCodes{Notify: in.notify, Clock: clocktest.Manual(t)}
	six := regexp.MustCompile(`^[0-9]{6}$`)
	seen := make(map[string]bool)
	for range 200 {
		if err := l.SendCode(ctx, phone); err != nil {
			t.Fatal(err)
		}
		c := in.last(t, phone)
		if !six.MatchString(c) {
			t.Fatalf("code %q is not 6 digits", c)
		}
		seen[c] = true
	}
	if len(seen) < 190 {
		t.Errorf("only %d distinct codes in 200: not random", len(seen))
	}
	// Codes are per phone number.
	if err := l.SendCode(ctx, "+14155550199"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.CheckCode(ctx, "+14155550199", in.last(t, phone)); ok && in.last(t, phone) != in.last(t, "+14155550199") {
		t.Errorf("another number's code was approved")
	}
	if ok, err := l.CheckCode(ctx, phone, in.last(t, phone)); !ok || err != nil {
		t.Errorf("CheckCode = %v, %v", ok, err)
	}
}

func TestLocalCodesErrors(t *testing.T) {
	ctx := context.Background()
	if err := (&verify.LocalCodes{}).SendCode(ctx, phone); err == nil {
		t.Error("SendCode without Notify succeeded")
	}
	var in inbox
	l := &verify.LocalCodes{Notify: in.notify, Clock: clocktest.Manual(t)}
	if err := l.SendCode(ctx, ""); err == nil {
		t.Error("SendCode to an empty number succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.SendCode(cctx, phone); !errors.Is(err, context.Canceled) {
		t.Errorf("SendCode with a cancelled context = %v", err)
	}
	if in.count(phone) != 0 {
		t.Error("a code was handed out by a failed SendCode")
	}
	if err := l.SendCode(ctx, phone); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CheckCode(cctx, phone, in.last(t, phone)); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckCode with a cancelled context = %v", err)
	}
	if ok, err := l.CheckCode(ctx, phone, in.last(t, phone)); !ok || err != nil {
		t.Errorf("the code did not survive a cancelled check: %v, %v", ok, err)
	}
}
