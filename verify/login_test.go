package verify_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/verify"
)

const (
	admin    = "admin"
	password = "correct horse battery staple"
	addr     = "192.0.2.10"
)

var hash = cheapHash(password)

type env struct {
	t     *testing.T
	login *verify.Login
	clk   *outreach.ManualClock
	in    *inbox
	store verify.AttemptStore
	ch    verify.Challenge // the latest challenge
	prev  verify.Challenge // the one before
}

func newEnv(t *testing.T, store verify.AttemptStore, mod func(*verify.Config)) *env {
	t.Helper()
	e := &env{t: t, clk: outreach.NewManualClock(t0), in: &inbox{}, store: store}
	cfg := verify.Config{
		Account:      admin,
		PasswordHash: hash,
		Phone:        phone,
		Codes:        &verify.LocalCodes{Notify: e.in.notify, Clock: e.clk},
		Attempts:     store,
		Clock:        e.clk,
	}
	if mod != nil {
		mod(&cfg)
	}
	var err error
	e.login, err = verify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// pw runs the password step and keeps the challenge.
func (e *env) pw(account, from, pass string) error {
	ch, err := e.login.CheckPassword(context.Background(), account, from, pass)
	if err == nil {
		e.prev, e.ch = e.ch, ch
	}
	return err
}

// code runs the code step with the latest challenge and the latest code
// sent.
func (e *env) code(account, from string) error {
	return e.login.CheckCode(context.Background(), account, from, e.ch.Token, e.in.last(e.t, phone))
}

// step is one call of a login test.
type step struct {
	advance time.Duration
	op      string // "pw" or "code"
	account string // default admin
	addr    string // default addr
	pass    string // "pw": default the right password
	code    string // "code": "right" (default), "wrong", "junk", "old" (the code sent before)
	chal    string // "code": "cur" (default), "prev", "bogus", "empty"
	want    error
}

func (e *env) run(i int, s step) {
	e.t.Helper()
	e.clk.Advance(s.advance)
	account, from := cmpOr(s.account, admin), cmpOr(s.addr, addr)
	var err error
	switch s.op {
	case "pw":
		err = e.pw(account, from, cmpOr(s.pass, password))
	case "code":
		tok := e.ch.Token
		switch s.chal {
		case "prev":
			tok = e.prev.Token
		case "bogus":
			tok = "AAAAAAAAAAAAAAAAAAAAAAAAAA"
		case "empty":
			tok = ""
		}
		right := ""
		if e.in.count(phone) > 0 {
			right = e.in.last(e.t, phone)
		}
		c := right
		switch s.code {
		case "wrong":
			c = otherCode(right)
		case "junk":
			c = "12ab56"
		case "old":
			e.in.mu.Lock()
			codes := e.in.codes[phone]
			c = codes[len(codes)-2]
			e.in.mu.Unlock()
		}
		err = e.login.CheckCode(context.Background(), account, from, tok, c)
	default:
		e.t.Fatalf("step %d: unknown op %q", i, s.op)
	}
	if !errors.Is(err, s.want) {
		e.t.Fatalf("step %d: %s(%+v) = %v; want %v", i, s.op, s, err, s.want)
	}
	if err != nil {
		checkNoSecret(e.t, err, e.in)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkNoSecret fails if err's message holds the password, a code, the
// phone number or a challenge token.
func checkNoSecret(t *testing.T, err error, in *inbox) {
	t.Helper()
	msg := err.Error()
	secrets := []string{password, phone, phone[len(phone)-7:], "AAAAAAAAAAAAAAAAAAAAAAAAAA"}
	in.mu.Lock()
	for _, cs := range in.codes {
		secrets = append(secrets, cs...)
	}
	in.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains a secret", msg)
		}
	}
}

var (
	pw   = step{op: "pw"}
	code = step{op: "code"}
)

func with(s step, f func(*step)) step { f(&s); return s }

func TestLoginOutcomes(t *testing.T) {
	wrongPw := with(pw, func(s *step) { s.pass = "correct horse battery stable"; s.want = verify.ErrWrongPassword })
	wrongCode := with(code, func(s *step) { s.code = "wrong"; s.want = verify.ErrWrongCode })
	expired := func(s step) step { s.want = verify.ErrExpired; return s }
	for _, tc := range []struct {
		name  string
		max   int // MaxFailures; 0 for the default
		steps []step
	}{
		{"right password and code", 0, []step{pw, code}},
		{"wrong password", 0, []step{wrongPw}},
		{"empty password", 0, []step{with(pw, func(s *step) { s.pass = " "; s.want = verify.ErrWrongPassword })}},
		{"wrong account", 0, []step{with(pw, func(s *step) { s.account = "root"; s.want = verify.ErrWrongPassword })}},
		{"account differs in case", 0, []step{with(pw, func(s *step) { s.account = "Admin"; s.want = verify.ErrWrongPassword })}},
		{"wrong code then right", 0, []step{pw, wrongCode, code}},
		{"junk code", 0, []step{pw, with(code, func(s *step) { s.code = "junk"; s.want = verify.ErrWrongCode }), code}},
		{"code just in time", 0, []step{pw, with(code, func(s *step) { s.advance = verify.CodeTTL - time.Second })}},
		{"code expired", 0, []step{pw, expired(with(code, func(s *step) { s.advance = verify.CodeTTL }))}},
		{"expired challenge stays expired", 0, []step{pw, expired(with(code, func(s *step) { s.advance = verify.CodeTTL })), expired(code)}},
		{"challenge reused", 0, []step{pw, code, expired(code)}},
		{"code used twice", 0, []step{pw, code, pw, with(code, func(s *step) { s.code = "old"; s.want = verify.ErrWrongCode }), code}},
		{"new challenge replaces the old", 0, []step{pw, pw, expired(with(code, func(s *step) { s.chal = "prev" })), code}},
		{"bogus challenge", 0, []step{pw, expired(with(code, func(s *step) { s.chal = "bogus" })), code}},
		{"empty challenge", 0, []step{pw, expired(with(code, func(s *step) { s.chal = "empty" }))}},
		{"challenge of another account", 0, []step{pw, expired(with(code, func(s *step) { s.account = "root" })), code}},
		{"code from another address", 0, []step{pw, with(code, func(s *step) { s.addr = "198.51.100.7" })}},
		{"code void after 5 checks", 10, []step{pw, wrongCode, wrongCode, wrongCode, wrongCode, wrongCode, expired(code), expired(code)}},
		{"right code on the 4th check", 0, []step{pw, wrongCode, wrongCode, wrongCode, code}},
	} {
		for _, impl := range attemptStores {
			t.Run(tc.name+"/"+impl.name, func(t *testing.T) {
				e := newEnv(t, impl.new(t), func(c *verify.Config) { c.MaxFailures = tc.max })
				for i, s := range tc.steps {
					e.run(i, s)
				}
			})
		}
	}
}

// checkLocked checks that err is a lockout lifting after d.
func checkLocked(t *testing.T, err error, d time.Duration) {
	t.Helper()
	var le *verify.LockedOutError
	if !errors.As(err, &le) || !errors.Is(err, verify.ErrLockedOut) {
		t.Fatalf("error %v; want a lockout of %v", err, d)
	}
	if le.RetryAfter != d {
		t.Fatalf("locked out for %v; want %v", le.RetryAfter, d)
	}
	if le.Until.IsZero() {
		t.Fatal("LockedOutError.Until is zero")
	}
	if got := le.Error(); !strings.Contains(got, "try again in "+d.String()) {
		t.Errorf("lockout error %q does not say when to try again", got)
	}
}

func TestLockoutPerAccount(t *testing.T) {
	for _, impl := range attemptStores {
		t.Run(impl.name, func(t *testing.T) {
			e := newEnv(t, impl.new(t), nil)
			// 5 wrong passwords, each from its own address.
			for i := range 5 {
				if err := e.pw(admin, fmt.Sprintf("192.0.2.%d", i+1), "wrong password!"); !errors.Is(err, verify.ErrWrongPassword) {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
			}
			// The account is locked, from any address, even with the
			// right password; no code is sent.
			checkLocked(t, e.pw(admin, "203.0.113.9", password), time.Minute)
			if e.in.count(phone) != 0 {
				t.Error("a code was sent to a locked-out account")
			}
			// Another account from the same addresses is not.
			if err := e.pw("root", "192.0.2.1", password); !errors.Is(err, verify.ErrWrongPassword) {
				t.Errorf("other account: %v", err)
			}
			// The lockout lifts with the clock.
			e.clk.Advance(59 * time.Second)
			checkLocked(t, e.pw(admin, "203.0.113.9", password), time.Second)
			e.clk.Advance(time.Second)
			if err := e.pw(admin, "203.0.113.9", password); err != nil {
				t.Fatalf("after the lockout: %v", err)
			}
			if err := e.code(admin, "203.0.113.9"); err != nil {
				t.Fatalf("code after the lockout: %v", err)
			}
		})
	}
}

func TestLockoutPerAddress(t *testing.T) {
	for _, impl := range attemptStores {
		t.Run(impl.name, func(t *testing.T) {
			e := newEnv(t, impl.new(t), nil)
			// 5 wrong passwords from one address, each for another account.
			for i := range 5 {
				if err := e.pw(fmt.Sprintf("user%d", i), addr, password); !errors.Is(err, verify.ErrWrongPassword) {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
			}
			// That address is locked, even for the right account; its
			// port does not matter.
			checkLocked(t, e.pw(admin, addr, password), time.Minute)
			checkLocked(t, e.pw(admin, addr+":4431", password), time.Minute)
			checkLocked(t, e.pw(admin, "::ffff:"+addr, password), time.Minute)
			// The account from another address is not.
			if err := e.pw(admin, "198.51.100.7", password); err != nil {
				t.Fatalf("other address: %v", err)
			}
			if err := e.code(admin, "198.51.100.7"); err != nil {
				t.Fatalf("other address, code: %v", err)
			}
		})
	}
}

func TestLockoutIPv6Network(t *testing.T) {
	e := newEnv(t, verify.NewMemoryAttempts(), nil)
	for i := range 5 {
		if err := e.pw(fmt.Sprintf("user%d", i), fmt.Sprintf("2001:db8:1:2::%x", i+1), password); !errors.Is(err, verify.ErrWrongPassword) {
			t.Fatal(err)
		}
	}
	checkLocked(t, e.pw("root", "[2001:db8:1:2:ffff::1]:443", password), time.Minute)
	if err := e.pw(admin, "2001:db8:1:3::1", password); err != nil {
		t.Errorf("another /64: %v", err)
	}
}

// TestLockoutGrows checks the delays: 1, 2, 4, ... minutes, capped at an
// hour, each further failure once a lockout lifts doubling it.
func TestLockoutGrows(t *testing.T) {
	for _, impl := range attemptStores {
		t.Run(impl.name, func(t *testing.T) {
			e := newEnv(t, impl.new(t), nil)
			for range 5 {
				if err := e.pw(admin, addr, "wrong password!"); !errors.Is(err, verify.ErrWrongPassword) {
					t.Fatal(err)
				}
			}
			want := time.Minute
			for i := range 9 {
				checkLocked(t, e.pw(admin, addr, "wrong password!"), want)
				e.clk.Advance(want / 2)
				checkLocked(t, e.pw(admin, addr, password), want/2) // still locked; not counted
				e.clk.Advance(want / 2)
				if err := e.pw(admin, addr, "wrong password!"); !errors.Is(err, verify.ErrWrongPassword) {
					t.Fatalf("round %d after the lockout lifted: %v", i, err)
				}
				want = min(2*want, time.Hour)
			}
			if want != time.Hour {
				t.Fatalf("never reached the cap: %v", want)
			}
			// A day of quiet forgets it all.
			e.clk.Advance(verify.DefaultForget + time.Second)
			for range 4 {
				if err := e.pw(admin, addr, "wrong password!"); !errors.Is(err, verify.ErrWrongPassword) {
					t.Fatal(err)
				}
			}
			if err := e.pw(admin, addr, password); err != nil {
				t.Fatalf("after forgetting: %v", err)
			}
		})
	}
}

func TestSuccessResets(t *testing.T) {
	for _, impl := range attemptStores {
		t.Run(impl.name, func(t *testing.T) {
			e := newEnv(t, impl.new(t), nil)
			for round := range 3 {
				// 3 wrong passwords + the right one + the code: 5 attempts,
				// the last ones right.
				for range 3 {
					if err := e.pw(admin, addr, "wrong password!"); !errors.Is(err, verify.ErrWrongPassword) {
						t.Fatal(err)
					}
				}
				if err := e.pw(admin, addr, password); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if err := e.code(admin, addr); err != nil {
					t.Fatalf("round %d: code: %v", round, err)
				}
			}
			// Wrong codes count as failures: password (1) + 4 wrong codes
			// lock the account.
			if err := e.pw(admin, addr, password); err != nil {
				t.Fatal(err)
			}
			for range 4 {
				if err := e.login.CheckCode(context.Background(), admin, addr, e.ch.Token, "000000x"); !errors.Is(err, verify.ErrWrongCode) {
					t.Fatal(err)
				}
			}
			checkLocked(t, e.code(admin, addr), time.Minute)
			// Once it lifts, the same challenge works.
			e.clk.Advance(time.Minute)
			if err := e.code(admin, addr); err != nil {
				t.Fatalf("after the lockout: %v", err)
			}
		})
	}
}

// TestLockoutFirstLoginAfterLift checks that a login made of a password
// step and a code step completes once a long lockout lifts, although its
// password step counts as a failure until the code is checked.
func TestLockoutFirstLoginAfterLift(t *testing.T) {
	e := newEnv(t, verify.NewMemoryAttempts(), nil)
	for range 7 { // 5 + 2 after lifts: the next lockout is 4 minutes
		for {
			err := e.pw(admin, addr, "wrong password!")
			if errors.Is(err, verify.ErrWrongPassword) {
				break
			}
			e.clk.Advance(time.Minute)
		}
	}
	checkLocked(t, e.pw(admin, addr, password), 4*time.Minute)
	e.clk.Advance(4 * time.Minute)
	if err := e.pw(admin, addr, password); err != nil {
		t.Fatal(err)
	}
	// One try at the code: a wrong one locks again.
	if err := e.login.CheckCode(context.Background(), admin, addr, e.ch.Token, "0000000"); !errors.Is(err, verify.ErrWrongCode) {
		t.Fatal(err)
	}
	checkLocked(t, e.code(admin, addr), 16*time.Minute)
}

// TestLockoutSurvivesRestart closes and reopens the SQLite file between a
// lockout and the next attempt.
func TestLockoutSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outreach.db")
	s, err := sqlitestoreOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, s, nil)
	for range 5 {
		if err := e.pw(admin, addr, "wrong password!"); !errors.Is(err, verify.ErrWrongPassword) {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openSQLite(t, path)
	e2 := newEnv(t, s2, nil)
	e2.clk.Set(t0.Add(30 * time.Second))
	checkLocked(t, e2.pw(admin, "198.51.100.7", password), 30*time.Second) // the account
	checkLocked(t, e2.pw("root", addr, password), 30*time.Second)          // the address
	e2.clk.Advance(30 * time.Second)
	if err := e2.pw(admin, addr, password); err != nil {
		t.Fatal(err)
	}
	if err := e2.code(admin, addr); err != nil {
		t.Fatal(err)
	}
}

// TestBurst fires many concurrent password attempts at an account: no more
// than MaxFailures of them are checked.
func TestBurst(t *testing.T) {
	for _, impl := range attemptStores {
		t.Run(impl.name, func(t *testing.T) {
			e := newEnv(t, impl.new(t), nil)
			const n = 50
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, errs[i] = e.login.CheckPassword(context.Background(), admin, fmt.Sprintf("192.0.2.%d", i), "wrong password!")
				})
			}
			wg.Wait()
			var wrong, lockedOut int
			for _, err := range errs {
				switch {
				case errors.Is(err, verify.ErrWrongPassword):
					wrong++
				case errors.Is(err, verify.ErrLockedOut):
					lockedOut++
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
			if wrong != 5 || lockedOut != n-5 {
				t.Errorf("%d checked, %d locked out; want 5 and %d", wrong, lockedOut, n-5)
			}
		})
	}
}

// failingSender fails every call.
type failingSender struct{ err error }

func (f failingSender) SendCode(context.Context, string) error { return f.err }
func (f failingSender) CheckCode(context.Context, string, string) (bool, error) {
	return false, f.err
}

func TestSenderError(t *testing.T) {
	boom := errors.New("twilio: 503")
	e := newEnv(t, verify.NewMemoryAttempts(), func(c *verify.Config) { c.Codes = failingSender{boom} })
	err := e.pw(admin, addr, password)
	var se *verify.SenderError
	if !errors.As(err, &se) || se.Op != "send" || !errors.Is(err, boom) {
		t.Fatalf("CheckPassword with a failing sender = %v; want a SenderError wrapping %v", err, boom)
	}
	for _, want := range []error{verify.ErrWrongPassword, verify.ErrWrongCode, verify.ErrExpired, verify.ErrLockedOut} {
		if errors.Is(err, want) {
			t.Errorf("sender error matches %v", want)
		}
	}
	checkNoSecret(t, err, e.in)
}

// switchSender sends through LocalCodes and fails the checks.
type switchSender struct {
	*verify.LocalCodes
	err error
}

func (s switchSender) CheckCode(context.Context, string, string) (bool, error) { return false, s.err }

func TestSenderCheckError(t *testing.T) {
	boom := errors.New("connection reset")
	e := newEnv(t, verify.NewMemoryAttempts(), func(c *verify.Config) {
		c.Codes = switchSender{c.Codes.(*verify.LocalCodes), boom}
	})
	if err := e.pw(admin, addr, password); err != nil {
		t.Fatal(err)
	}
	err := e.code(admin, addr)
	var se *verify.SenderError
	if !errors.As(err, &se) || se.Op != "check" || !errors.Is(err, boom) {
		t.Fatalf("CheckCode with a failing sender = %v", err)
	}
}

func TestCancelled(t *testing.T) {
	e := newEnv(t, verify.NewMemoryAttempts(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.login.CheckPassword(ctx, admin, addr, password); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckPassword = %v", err)
	}
	if err := e.login.CheckCode(ctx, admin, addr, "x", "123456"); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckCode = %v", err)
	}
	// Nothing was counted.
	for range 5 {
		if err := e.pw(admin, addr, "wrong password!"); !errors.Is(err, verify.ErrWrongPassword) {
			t.Fatal(err)
		}
	}
}

func TestChallenge(t *testing.T) {
	e := newEnv(t, verify.NewMemoryAttempts(), nil)
	if err := e.pw(admin, addr, password); err != nil {
		t.Fatal(err)
	}
	first := e.ch
	if err := e.pw(admin, addr, password); err != nil {
		t.Fatal(err)
	}
	if len(first.Token) < 22 || first.Token == e.ch.Token {
		t.Errorf("challenge tokens %q, %q: too short or repeated", first.Token, e.ch.Token)
	}
	if !e.ch.Expires.Equal(t0.Add(verify.CodeTTL)) {
		t.Errorf("Expires = %v", e.ch.Expires)
	}
	if e.ch.MaskedPhone != "•••0100" {
		t.Errorf("MaskedPhone = %q", e.ch.MaskedPhone)
	}
}

func TestNewConfig(t *testing.T) {
	clock := clocktest.Manual(t)
	codes := &verify.LocalCodes{Notify: func(string, string) {}, Clock: clock}
	good := verify.Config{Account: admin, PasswordHash: hash, Phone: phone, Codes: codes, Clock: clock}
	if _, err := verify.New(good); err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	for name, mod := range map[string]func(*verify.Config){
		"no account":        func(c *verify.Config) { c.Account = "" },
		"no phone":          func(c *verify.Config) { c.Phone = "" },
		"no sender":         func(c *verify.Config) { c.Codes = nil },
		"bad hash":          func(c *verify.Config) { c.PasswordHash = password },
		"max < base":        func(c *verify.Config) { c.LockoutBase = 2 * time.Hour },
		"forget too short":  func(c *verify.Config) { c.Forget = time.Hour },
		"negative failures": func(c *verify.Config) { c.MaxFailures = -1 },
	} {
		c := good
		mod(&c)
		l, err := verify.New(c)
		if err == nil {
			t.Errorf("%s: New succeeded: %v", name, l)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%s: error %q contains the password", name, err)
		}
	}
}

// TestLoginAcrossInstances: two Logins (two instances of a web app) that
// share their stores: the password step on one, the code step on the
// other. With a ChallengeStore of its own, the second knows no
// challenge.
func TestLoginAcrossInstances(t *testing.T) {
	ctx := context.Background()
	for _, shared := range []bool{true, false} {
		clk := outreach.NewManualClock(t0)
		in := &inbox{}
		codes := &verify.LocalCodes{Notify: in.notify, Clock: clk}
		users := &verify.MemoryUsers{}
		if err := users.CreateUser(ctx, verify.User{Name: admin, Role: verify.RoleAdmin, PasswordHash: hash, Phone: phone}, t0); err != nil {
			t.Fatal(err)
		}
		attempts, challenges := verify.NewMemoryAttempts(), &verify.MemoryChallenges{}
		instance := func() *verify.Login {
			cfg := verify.Config{Users: users, Codes: codes, Attempts: attempts, Clock: clk}
			if shared {
				cfg.Challenges = challenges
			}
			l, err := verify.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		a, b := instance(), instance()
		ch, err := a.CheckPassword(ctx, admin, addr, password)
		if err != nil {
			t.Fatal(err)
		}
		err = b.CheckCode(ctx, admin, addr, ch.Token, in.last(t, phone))
		switch {
		case shared && err != nil:
			t.Errorf("code step on the other instance, challenges shared: %v", err)
		case !shared && !errors.Is(err, verify.ErrExpired):
			t.Errorf("code step on the other instance, challenges not shared: %v; want ErrExpired", err)
		}
	}
}
