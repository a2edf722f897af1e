package verify_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/verify"
	"github.com/patient-outreach/sms/verify/verifytest"
)

const (
	userPhone  = "+14155550123"
	userPass   = "the user's own long password"
	strangerIP = "203.0.113.7"
	userIP     = "198.51.100.20"
)

// usersEnv is a Login on a MemoryUsers with an administrator "admin"
// (phone) and an operator "olga" (userPhone).
type usersEnv struct {
	t     *testing.T
	login *verify.Login
	users *verify.MemoryUsers
	clk   *outreach.ManualClock
	in    *inbox
}

func newUsersEnv(t *testing.T) *usersEnv {
	t.Helper()
	e := &usersEnv{t: t, users: &verify.MemoryUsers{}, clk: outreach.NewManualClock(t0), in: &inbox{}}
	ctx := context.Background()
	for _, u := range []verify.User{
		{Name: admin, Role: verify.RoleAdmin, PasswordHash: hash, Phone: phone},
		{Name: "olga", Role: verify.RoleOperator, PasswordHash: cheapHash(userPass), Phone: userPhone},
	} {
		if err := e.users.CreateUser(ctx, u, t0); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	e.login, err = verify.New(verify.Config{
		Users: e.users, Codes: &verify.LocalCodes{Notify: e.in.notify, Clock: e.clk}, Clock: e.clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// full runs both steps; it returns the first error.
func (e *usersEnv) full(account, from, device, pass, to string) error {
	ctx := context.Background()
	ch, err := e.login.CheckPasswordOnDevice(ctx, account, from, device, pass)
	if err != nil {
		return err
	}
	return e.login.CheckCode(ctx, account, from, ch.Token, e.in.last(e.t, to))
}

func TestNamedUsersGetTheirOwnCodes(t *testing.T) {
	e := newUsersEnv(t)
	if err := e.full("olga", userIP, "", userPass, userPhone); err != nil {
		t.Fatalf("olga's login = %v", err)
	}
	if e.in.count(phone) != 0 {
		t.Errorf("olga's code went to the administrator's phone")
	}
	if err := e.full(admin, userIP, "", userPass, phone); !errors.Is(err, verify.ErrWrongPassword) {
		t.Errorf("admin with olga's password = %v; want ErrWrongPassword", err)
	}
	if err := e.full("nobody", userIP, "", userPass, phone); !errors.Is(err, verify.ErrWrongPassword) {
		t.Errorf("unknown user = %v; want ErrWrongPassword", err)
	}
	ctx := context.Background()
	u, _ := e.users.GetUser(ctx, "olga")
	u.Disabled = true
	if err := e.users.UpdateUser(ctx, u, t0); err != nil {
		t.Fatal(err)
	}
	if err := e.full("olga", userIP, "", userPass, userPhone); !errors.Is(err, verify.ErrWrongPassword) {
		t.Errorf("disabled user = %v; want ErrWrongPassword", err)
	}
}

// A stranger sends one wrong password a minute, for a day, to the
// account; the user, on the browser she logged in from before, logs in
// every hour all the same.
func TestStrangerCannotKeepRememberedUserOut(t *testing.T) {
	e := newUsersEnv(t)
	ctx := context.Background()
	if err := e.full("olga", userIP, "", userPass, userPhone); err != nil {
		t.Fatal(err)
	}
	device, err := e.login.RememberDevice(ctx, "olga", "")
	if err != nil {
		t.Fatal(err)
	}
	adminDevice, err := e.login.RememberDevice(ctx, admin, "")
	if err != nil {
		t.Fatal(err)
	}
	// A remembered browser keeps its token; another user's token is not
	// reused.
	if again, err := e.login.RememberDevice(ctx, "olga", device); err != nil || again != device {
		t.Fatalf("RememberDevice(olga, her token) = %q, %v; want her token", again, err)
	}
	if other, err := e.login.RememberDevice(ctx, "olga", adminDevice); err != nil || other == adminDevice || other == "" {
		t.Fatalf("RememberDevice(olga, admin's token) = %q, %v; want a new token", other, err)
	}
	checked, throttled, userLogins := 0, 0, 0
	for minute := 1; minute <= 24*60; minute++ {
		e.clk.Advance(time.Minute)
		_, err := e.login.CheckPassword(ctx, "olga", strangerIP, fmt.Sprintf("guess %d of the password", minute))
		var locked *verify.LockedOutError
		switch {
		case errors.Is(err, verify.ErrWrongPassword):
			checked++
		case errors.As(err, &locked):
			throttled++
			if locked.RetryAfter <= 0 || locked.RetryAfter > verify.DefaultLockoutMax {
				t.Fatalf("minute %d: RetryAfter = %v", minute, locked.RetryAfter)
			}
		default:
			t.Fatalf("minute %d: stranger's try = %v", minute, err)
		}
		if minute%60 == 30 {
			if err := e.full("olga", userIP, device, userPass, userPhone); err != nil {
				t.Fatalf("minute %d: olga on her remembered device = %v", minute, err)
			}
			userLogins++
			// The account itself is throttled: a browser without the
			// device token (or with another user's) waits.
			if minute > 60 {
				for _, d := range []string{"", adminDevice, "forged-token"} {
					if _, err := e.login.CheckPasswordOnDevice(ctx, "olga", userIP, d, userPass); !errors.Is(err, verify.ErrLockedOut) {
						t.Fatalf("minute %d: olga without her device (%q) = %v; want ErrLockedOut", minute, d, err)
					}
				}
			}
		}
	}
	if userLogins != 24 {
		t.Errorf("olga logged in %d times; want 24", userLogins)
	}
	// 5 free tries, then one after each delay: 1, 2, 4, ... 32 minutes,
	// then one an hour.
	if checked > 40 || throttled < 24*60-40 {
		t.Errorf("the stranger's password was checked %d times (%d throttled); want at most 40", checked, throttled)
	}
}

// Brute force from one address, over many account names: the delays
// double from LockoutBase up to LockoutMax.
func TestBruteForceFromOneAddressDoubles(t *testing.T) {
	e := newUsersEnv(t)
	ctx := context.Background()
	var delays []time.Duration
	for i := 0; len(delays) < 9; i++ {
		_, err := e.login.CheckPassword(ctx, fmt.Sprintf("user%d", i), strangerIP, "wrong password!")
		if !errors.Is(err, verify.ErrWrongPassword) {
			t.Fatalf("try %d = %v; want ErrWrongPassword", i, err)
		}
		// Right away again: refused, saying when to retry.
		_, err = e.login.CheckPassword(ctx, fmt.Sprintf("other%d", i), strangerIP, "wrong password!")
		var locked *verify.LockedOutError
		if errors.As(err, &locked) {
			if !locked.Until.Equal(e.clk.Now().Add(locked.RetryAfter)) {
				t.Fatalf("Until %v, RetryAfter %v", locked.Until, locked.RetryAfter)
			}
			delays = append(delays, locked.RetryAfter)
			e.clk.Advance(locked.RetryAfter)
		} else if !errors.Is(err, verify.ErrWrongPassword) {
			t.Fatalf("try %d again = %v", i, err)
		}
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour, time.Hour}
	if fmt.Sprint(delays) != fmt.Sprint(want) {
		t.Errorf("delays = %v; want %v", delays, want)
	}
	// Another address is not slowed down.
	if err := e.full("olga", userIP, "", userPass, userPhone); err != nil {
		t.Errorf("olga from another address = %v", err)
	}
}

// Failures on a remembered device throttle that device only.
func TestDeviceFailuresThrottleTheDevice(t *testing.T) {
	e := newUsersEnv(t)
	ctx := context.Background()
	if err := e.full("olga", userIP, "", userPass, userPhone); err != nil {
		t.Fatal(err)
	}
	device, err := e.login.RememberDevice(ctx, "olga", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range verify.DefaultMaxFailures {
		if _, err := e.login.CheckPasswordOnDevice(ctx, "olga", userIP, device, "not my password"); !errors.Is(err, verify.ErrWrongPassword) {
			t.Fatalf("try %d = %v", i, err)
		}
	}
	if _, err := e.login.CheckPasswordOnDevice(ctx, "olga", userIP, device, userPass); !errors.Is(err, verify.ErrLockedOut) {
		t.Errorf("device after %d failures = %v; want ErrLockedOut", verify.DefaultMaxFailures, err)
	}
	if err := e.full("olga", "192.0.2.99", "", userPass, userPhone); err != nil {
		t.Errorf("olga from elsewhere, without the device = %v", err)
	}
	// A new password forgets the devices.
	u, _ := e.users.GetUser(ctx, "olga")
	u.PasswordHash = cheapHash("a brand new password")
	if err := e.users.UpdateUser(ctx, u, t0); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.users.UserHasDevice(ctx, "olga", verify.DeviceTokenHash(device)); ok {
		t.Error("the device is still remembered after a password change")
	}
}

func TestClientAddr(t *testing.T) {
	proxies, err := verify.ParseTrustedProxies("10.0.0.1, 192.168.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no header", "203.0.113.7:5555", nil, nil, "203.0.113.7"},
		{"spoofed, no trusted proxy", "203.0.113.7:5555", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"spoofed, peer not trusted", "203.0.113.7:5555", []string{"198.51.100.1"}, proxies, "203.0.113.7"},
		{"trusted proxy", "10.0.0.1:443", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"spoof through proxy: rightmost untrusted", "10.0.0.1:443", []string{"1.2.3.4, 198.51.100.1"}, proxies, "198.51.100.1"},
		{"two trusted hops", "10.0.0.1:443", []string{"1.2.3.4, 198.51.100.1, 192.168.3.4"}, proxies, "198.51.100.1"},
		{"several headers", "10.0.0.1:443", []string{"1.2.3.4", "198.51.100.1"}, proxies, "198.51.100.1"},
		{"malformed entry", "10.0.0.1:443", []string{"198.51.100.1, junk"}, proxies, "10.0.0.1"},
		{"trusted proxy, no header", "10.0.0.1:443", nil, proxies, "10.0.0.1"},
		{"IPv6 peer", "[2001:db8::1]:443", []string{"1.2.3.4"}, nil, "2001:db8::1"},
		{"mapped IPv4", "[::ffff:10.0.0.1]:443", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
	} {
		if got := verify.ClientAddr(c.remote, c.xff, c.trusted); got != c.want {
			t.Errorf("%s: ClientAddr = %q; want %q", c.name, got, c.want)
		}
	}
	for _, bad := range []string{"10.0.0", "10.0.0.0/33", "proxy.example"} {
		if _, err := verify.ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) succeeded", bad)
		}
	}
}

// X-Forwarded-For cannot spread a brute force over many addresses unless
// the request came through a trusted proxy.
func TestForwardedForDoesNotDodgeAddressLimit(t *testing.T) {
	e := newUsersEnv(t)
	ctx := context.Background()
	var err error
	for i := range verify.DefaultMaxFailures + 1 {
		from := verify.ClientAddr(strangerIP+":4000", []string{fmt.Sprintf("198.51.100.%d", i)}, nil)
		_, err = e.login.CheckPassword(ctx, fmt.Sprintf("user%d", i), from, "wrong password!")
	}
	if !errors.Is(err, verify.ErrLockedOut) {
		t.Errorf("after %d spoofed tries: %v; want ErrLockedOut", verify.DefaultMaxFailures+1, err)
	}
}

func TestRoleAllows(t *testing.T) {
	for _, c := range []struct {
		have, need verify.Role
		want       bool
	}{
		{verify.RoleViewer, verify.RoleViewer, true},
		{verify.RoleViewer, verify.RoleOperator, false},
		{verify.RoleOperator, verify.RoleOperator, true},
		{verify.RoleOperator, verify.RoleAdmin, false},
		{verify.RoleAdmin, verify.RoleOperator, true},
		{"root", verify.RoleViewer, false},
		{verify.RoleAdmin, "root", false},
	} {
		if got := c.have.Allows(c.need); got != c.want {
			t.Errorf("%q.Allows(%q) = %v", c.have, c.need, got)
		}
	}
}

func TestUserValidate(t *testing.T) {
	good := verify.User{Name: "ann.lee", Role: verify.RoleViewer, PasswordHash: hash, Phone: phone}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*verify.User){
		"empty name":    func(u *verify.User) { u.Name = "" },
		"upper case":    func(u *verify.User) { u.Name = "Ann" },
		"space":         func(u *verify.User) { u.Name = "ann lee" },
		"bad role":      func(u *verify.User) { u.Role = "root" },
		"phone":         func(u *verify.User) { u.Phone = "4155550100" },
		"hash":          func(u *verify.User) { u.PasswordHash = "secret" },
		"no phone":      func(u *verify.User) { u.Phone = "" },
		"letters phone": func(u *verify.User) { u.Phone = "+1415555CALL" },
	} {
		u := good
		mod(&u)
		if err := u.Validate(); err == nil {
			t.Errorf("%s: Validate succeeded", name)
		}
	}
	m := &verify.MemoryUsers{}
	ctx := context.Background()
	if err := m.CreateUser(ctx, good, t0); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateUser(ctx, good, t0); !errors.Is(err, verify.ErrUserExists) {
		t.Errorf("second CreateUser = %v; want ErrUserExists", err)
	}
	if _, err := m.GetUser(ctx, "bob"); !errors.Is(err, verify.ErrNoUser) {
		t.Errorf("GetUser(bob) = %v; want ErrNoUser", err)
	}
	bob := good
	bob.Name = "bob"
	if err := m.UpdateUser(ctx, bob, t0); !errors.Is(err, verify.ErrNoUser) {
		t.Errorf("UpdateUser(bob) = %v; want ErrNoUser", err)
	}
}

func TestMemoryUsers(t *testing.T) {
	verifytest.ExerciseUsers(t, func(*testing.T) verify.UserStore { return &verify.MemoryUsers{} })
}

func TestMemoryChallenges(t *testing.T) {
	verifytest.ExerciseChallenges(t, func(*testing.T) verify.ChallengeStore { return &verify.MemoryChallenges{} })
}
