package verify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// Defaults of [Config].
const (
	DefaultMaxFailures = 5
	DefaultLockoutBase = time.Minute
	DefaultLockoutMax  = time.Hour
	DefaultForget      = 24 * time.Hour
)

// Config configures a [Login]. Users (or Account, PasswordHash and Phone)
// and Codes are required; the zero value of every other field gives its
// default.
type Config struct {
	// Users keeps the users who may log in, and their remembered devices:
	// e.g. a *sqlitestore.Store.
	Users UserStore
	// Account, PasswordHash and Phone are a shortcut for a single user:
	// when Users is nil, New makes a [MemoryUsers] holding one
	// administrator of that name, password hash (from [HashPassword]) and
	// phone (E.164).
	Account, PasswordHash, Phone string
	// Codes sends and checks the one-time codes: Twilio Verify, or
	// [LocalCodes] in dev mode.
	Codes CodeSender
	// Attempts keeps the failure counts. nil means a new
	// [MemoryAttempts]; give a store shared by every instance (and kept
	// across restarts) in production.
	Attempts AttemptStore
	// Clock is the time source; nil means the system clock.
	Clock outreach.Clock
	// MaxFailures is how many failed attempts an account, a client
	// address or a remembered device may make before it is throttled.
	// Default 5.
	MaxFailures int
	// LockoutBase is the first delay once throttled; every further
	// failure doubles it, up to LockoutMax. Defaults 1 minute and 1 hour.
	LockoutBase, LockoutMax time.Duration
	// Forget is how long after its latest failure a key's count is
	// forgotten. It must exceed LockoutMax. Default 24 hours.
	Forget time.Duration
	// Challenges keeps the logins between their two steps. nil means a
	// new [MemoryChallenges]; give a store shared by every instance of
	// the web app (its database) so that a login can finish on another
	// instance than the one it started on.
	Challenges ChallengeStore
	// ChallengeTTL is how long a challenge (and so the code step) lasts.
	// Default [CodeTTL], the life of a Twilio Verify code.
	ChallengeTTL time.Duration
}

// Login checks the web app's logins in two steps: the user's password
// ([Login.CheckPassword]), then a one-time code sent to the user's phone
// ([Login.CheckCode]). It throttles failed attempts per account and per
// client address, or, from a browser the user logged in from before, per
// remembered device ([Login.RememberDevice]). It is safe for concurrent
// use; create it with [New].
//
// Challenges live in [Config.Challenges]: with a shared store, the two
// steps of a login may reach different instances of the web app.
type Login struct {
	cfg   Config
	users UserStore
	// dummy is checked when there is no such user, so that timing does
	// not tell a wrong name from a wrong password.
	dummy argonHash
	clock outreach.Clock
}

// Challenge is what a successful password step returns: the web app keeps
// Token (in a cookie or a hidden form field) and passes it back with the
// code. It works once, only for the account that got it, until Expires.
type Challenge struct {
	Token   string
	Expires time.Time
	// MaskedPhone is the last digits of the phone the code went to, for
	// "we sent a code to •••1234".
	MaskedPhone string
}

// New checks cfg and returns a Login.
func New(cfg Config) (*Login, error) {
	if cfg.Codes == nil {
		return nil, errors.New("verify: Config.Codes is nil: use Twilio Verify, or LocalCodes in dev mode")
	}
	if cfg.Clock == nil {
		cfg.Clock = outreach.SystemClock{}
	}
	users := cfg.Users
	switch {
	case users != nil && (cfg.Account != "" || cfg.PasswordHash != "" || cfg.Phone != ""):
		return nil, errors.New("verify: set Config.Users or Account, PasswordHash and Phone, not both")
	case users == nil && cfg.Account == "":
		return nil, errors.New("verify: Config.Users is nil and Config.Account is empty: set the users")
	case users == nil && cfg.Phone == "":
		return nil, errors.New("verify: Config.Phone is empty: set the administrator's phone number")
	case users == nil:
		m := &MemoryUsers{}
		u := User{Name: cfg.Account, Role: RoleAdmin, PasswordHash: cfg.PasswordHash, Phone: cfg.Phone}
		if err := m.CreateUser(context.Background(), u, cfg.Clock.Now()); err != nil {
			return nil, fmt.Errorf("verify: Config.Account: %w", err)
		}
		users = m
	}
	dummy, err := parseHash(dummyHash)
	if err != nil {
		return nil, err
	}
	if cfg.Attempts == nil {
		cfg.Attempts = NewMemoryAttempts()
	}
	if cfg.Challenges == nil {
		cfg.Challenges = &MemoryChallenges{}
	}
	setDefault(&cfg.MaxFailures, DefaultMaxFailures)
	setDefault(&cfg.LockoutBase, DefaultLockoutBase)
	setDefault(&cfg.LockoutMax, DefaultLockoutMax)
	setDefault(&cfg.Forget, DefaultForget)
	setDefault(&cfg.ChallengeTTL, CodeTTL)
	switch {
	case cfg.MaxFailures < 0, cfg.LockoutBase < 0, cfg.LockoutMax < 0, cfg.Forget < 0, cfg.ChallengeTTL < 0:
		return nil, errors.New("verify: negative limit in Config")
	case cfg.LockoutMax < cfg.LockoutBase:
		return nil, fmt.Errorf("verify: Config.LockoutMax (%v) is shorter than LockoutBase (%v)", cfg.LockoutMax, cfg.LockoutBase)
	case cfg.Forget <= cfg.LockoutMax:
		return nil, fmt.Errorf("verify: Config.Forget (%v) must be longer than LockoutMax (%v)", cfg.Forget, cfg.LockoutMax)
	}
	return &Login{cfg: cfg, users: users, dummy: dummy, clock: cfg.Clock}, nil
}

// dummyHash is the hash of a password nobody has, with the parameters of
// [HashPassword].
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$qGmL+MsMgVtYJ76HNNLUCA$pdrVcMBPJBMZbaA/MMR0eFeFp1b/us8lPUNboh6XxoI"

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// CheckPassword is the first step: it checks the user's name and password
// and, if they are right, sends a code to the user's phone and returns a
// challenge for [Login.CheckCode]. clientAddr is the client's IP address
// (a port is ignored; IPv6 addresses count per /64): see [ClientAddr].
//
// Errors: [ErrWrongPassword] (no such user, disabled user or wrong
// password), [*LockedOutError] (throttled: it says when to retry),
// [*SenderError] (the code could not be sent), or another error for a
// failure of a store or of ctx. Every call counts as a failed attempt of
// the account and of the address until a login completes; a throttled
// call does not check the password.
func (l *Login) CheckPassword(ctx context.Context, account, clientAddr, password string) (Challenge, error) {
	return l.CheckPasswordOnDevice(ctx, account, clientAddr, "", password)
}

// CheckPasswordOnDevice is [Login.CheckPassword] from a browser that sent
// device, the token of a remembered device ([Login.RememberDevice]; ""
// for none). When device is a remembered device of account, the attempt
// (and the code step that follows) is counted and throttled per device
// only: failures of strangers on the account or from the same address do
// not keep the user out, and the user's own failures do not throttle the
// account. Any other token counts as none.
func (l *Login) CheckPasswordOnDevice(ctx context.Context, account, clientAddr, device, password string) (Challenge, error) {
	if err := ctx.Err(); err != nil {
		return Challenge{}, err
	}
	now := l.clock.Now()
	keys, err := l.keys(ctx, account, clientAddr, device)
	if err != nil {
		return Challenge{}, err
	}
	counts, err := l.admit(ctx, now, nil, keys...)
	if err != nil {
		return Challenge{}, err
	}
	u, err := l.users.GetUser(ctx, account)
	switch {
	case errors.Is(err, ErrNoUser):
	case err != nil:
		return Challenge{}, fmt.Errorf("verify: user store: %w", err)
	}
	// Hash whatever the user, so that timing does not tell a wrong name
	// from a wrong password.
	h, herr := parseHash(u.PasswordHash)
	if err != nil || herr != nil {
		h = l.dummy
	}
	okPass := h.matches(password)
	if err != nil || herr != nil || !okPass || u.Disabled {
		return Challenge{}, ErrWrongPassword
	}
	if err := l.cfg.Codes.SendCode(ctx, u.Phone); err != nil {
		return Challenge{}, &SenderError{Op: "send", Err: err}
	}
	token := rand.Text() // 128 random bits
	ch := Challenge{Token: token, Expires: now.Add(l.cfg.ChallengeTTL), MaskedPhone: maskPhone(u.Phone)}
	// One challenge per account: a new code replaces the old one.
	if err := l.cfg.Challenges.SaveChallenge(ctx, StoredChallenge{
		TokenHash: ChallengeTokenHash(token), Account: account, Phone: u.Phone, Expires: ch.Expires, Counts: counts,
	}, now); err != nil {
		return Challenge{}, fmt.Errorf("verify: challenge store: %w", err)
	}
	return ch, nil
}

// keys returns the attempt-store keys an attempt counts on: its device's
// alone if device is a remembered device of account, else the account's
// and the client address's.
func (l *Login) keys(ctx context.Context, account, clientAddr, device string) ([]string, error) {
	if device != "" {
		h := DeviceTokenHash(device)
		ok, err := l.users.UserHasDevice(ctx, account, h)
		if err != nil {
			return nil, fmt.Errorf("verify: user store: %w", err)
		}
		if ok {
			return []string{"device:" + h}, nil
		}
	}
	return []string{accountKey(account), addrKey(clientAddr)}, nil
}

// RememberDevice returns the device token for account to keep in a
// long-lived cookie of the browser that has just completed a login
// ([Login.CheckCode] returned nil). current is the token that browser
// sent ("" for none): if it is a remembered device of account already, it
// is returned as it is; otherwise a new token is made and its hash stored.
// Pass the token to [Login.CheckPasswordOnDevice] on the user's next
// logins.
func (l *Login) RememberDevice(ctx context.Context, account, current string) (string, error) {
	if current != "" {
		ok, err := l.users.UserHasDevice(ctx, account, DeviceTokenHash(current))
		if err != nil {
			return "", fmt.Errorf("verify: remember device: %w", err)
		}
		if ok {
			return current, nil
		}
	}
	token := rand.Text()
	if err := l.users.AddUserDevice(ctx, account, DeviceTokenHash(token), l.clock.Now()); err != nil {
		return "", fmt.Errorf("verify: remember device: %w", err)
	}
	return token, nil
}

// CheckCode is the second step: it checks the code the user typed against
// the code sent for challenge, a token from [Login.CheckPassword]. nil
// means the login is complete: the challenge is used up and the failure
// counts of the account and of the address are cleared.
//
// Errors: [ErrWrongCode] (the user may try again with the same challenge
// until the code is void), [ErrExpired] (unknown, used or expired
// challenge, or no pending code: log in again), [*LockedOutError],
// [*SenderError], or another error for a failure of the attempt store or
// of ctx. Every call counts as a failed attempt until the login completes.
func (l *Login) CheckCode(ctx context.Context, account, clientAddr, challenge, code string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := l.clock.Now()
	key := ChallengeTokenHash(challenge)
	c, err := l.cfg.Challenges.GetChallenge(ctx, key, now)
	ok := err == nil
	switch {
	case errors.Is(err, ErrNoChallenge):
	case err != nil:
		return fmt.Errorf("verify: challenge store: %w", err)
	}
	valid := ok && subtle.ConstantTimeCompare([]byte(c.Account), []byte(account)) == 1
	var exempt map[string]int
	keys := []string{accountKey(account), addrKey(clientAddr)}
	if valid {
		// The keys the password step counted on: its device's, or the
		// account's and the address's.
		exempt, keys = c.Counts, slices.Collect(maps.Keys(c.Counts))
	}
	if _, err := l.admit(ctx, now, exempt, keys...); err != nil {
		return err
	}
	if !valid {
		return ErrExpired
	}
	if !plausibleCode(code) {
		return ErrWrongCode
	}
	approved, err := l.cfg.Codes.CheckCode(ctx, c.Phone, code)
	switch {
	case errors.Is(err, ErrExpired):
		_, _ = l.cfg.Challenges.TakeChallenge(ctx, key) // void anyway: it is refused again next time
		return ErrExpired
	case err != nil:
		return &SenderError{Op: "check", Err: err}
	case !approved:
		return ErrWrongCode
	}
	taken, err := l.cfg.Challenges.TakeChallenge(ctx, key)
	switch {
	case err != nil:
		return fmt.Errorf("verify: challenge store: %w", err)
	case !taken:
		return ErrExpired // a concurrent call used it first
	}
	// The login is complete. The counts are cleared on a best-effort
	// basis: if the store fails now, they are forgotten after Forget.
	for _, k := range keys {
		_ = l.cfg.Attempts.ResetLoginFailures(ctx, k)
	}
	return nil
}

// admit refuses the attempt if any key is locked out, and otherwise counts
// it as a failure of every key before the caller checks anything: a burst
// of concurrent attempts, from one instance or many, can never make more
// than MaxFailures checks, because each one gets a distinct count from the
// store's atomic increment. It returns the counts including this attempt.
//
// exempt holds the counts a password step left (nil for a password step):
// a lockout that the password step itself started, when no failure has
// been counted since, does not stop the code step of the same login.
// Without that, the first login after a lockout lifts could never finish,
// since counting its password step locks again.
func (l *Login) admit(ctx context.Context, now time.Time, exempt map[string]int, keys ...string) (map[string]int, error) {
	exempted := func(k string, n int) bool {
		e, ok := exempt[k]
		return ok && n == e
	}
	var until time.Time
	for _, k := range keys {
		n, last, err := l.cfg.Attempts.LoginFailures(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("verify: attempt store: %w", err)
		}
		if u := l.lockedUntil(n, last, now); u.After(until) && !exempted(k, n) {
			until = u
		}
	}
	if !until.IsZero() {
		return nil, &LockedOutError{Until: until, RetryAfter: until.Sub(now)}
	}
	counts := make(map[string]int, len(keys))
	for _, k := range keys {
		n, prev, err := l.cfg.Attempts.RecordLoginFailure(ctx, k, now, l.cfg.Forget)
		if err != nil {
			return nil, fmt.Errorf("verify: attempt store: %w", err)
		}
		counts[k] = n
		// Locked by a concurrent attempt between the check and the count.
		if u := l.lockedUntil(n-1, prev, now); u.After(until) && !exempted(k, n-1) {
			until = u
		}
	}
	if !until.IsZero() {
		return nil, &LockedOutError{Until: until, RetryAfter: until.Sub(now)}
	}
	return counts, nil
}

// lockedUntil returns when the lockout of a key with failures failures,
// the latest at last, lifts, or the zero time if it is not locked at now.
// MaxFailures failures lock for LockoutBase; each further one doubles it,
// up to LockoutMax.
func (l *Login) lockedUntil(failures int, last, now time.Time) time.Time {
	if failures < l.cfg.MaxFailures || last.IsZero() || now.Sub(last) > l.cfg.Forget {
		return time.Time{}
	}
	d := l.cfg.LockoutBase
	for i := l.cfg.MaxFailures; i < failures && d < l.cfg.LockoutMax; i++ {
		d *= 2
	}
	until := last.Add(min(d, l.cfg.LockoutMax))
	if !now.Before(until) {
		return time.Time{}
	}
	return until
}

// accountKey is the attempt-store key of an account name. The name is
// hashed: users sometimes type their password into the name field, and
// the store must not keep it.
func accountKey(account string) string {
	sum := sha256.Sum256([]byte(account))
	return "account:" + hex.EncodeToString(sum[:])
}

// addrKey is the attempt-store key of a client address: the IP address
// without a port, an IPv6 address as its /64 network (one host usually
// has a whole /64). Anything else is hashed.
func addrKey(clientAddr string) string {
	a, err := netip.ParseAddr(clientAddr)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(clientAddr)
		if err2 != nil {
			sum := sha256.Sum256([]byte(clientAddr))
			return "addr:?" + hex.EncodeToString(sum[:])
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + a.String()
}

// plausibleCode reports whether code looks like a Verify code (4 to 10
// digits), so that junk is refused without asking the sender.
func plausibleCode(code string) bool {
	if len(code) < 4 || len(code) > 10 {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// maskPhone keeps the last 4 digits of a phone number.
func maskPhone(phone string) string {
	if len(phone) <= 4 {
		return "•••"
	}
	return "•••" + phone[len(phone)-4:]
}
