package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Role is what a user may do in the web app. Each role may do everything
// the roles below it may.
type Role string

// The roles, from the least to the most trusted.
const (
	// RoleViewer reads campaigns, their results and the flows.
	RoleViewer Role = "viewer"
	// RoleOperator also runs campaigns: creates, starts, pauses, resumes
	// and cancels them, deploys flows, manages opt-outs and acknowledges
	// alerts.
	RoleOperator Role = "operator"
	// RoleAdmin also manages the users.
	RoleAdmin Role = "admin"
)

// Roles lists the roles, from the least to the most trusted.
var Roles = []Role{RoleViewer, RoleOperator, RoleAdmin}

// Valid reports whether r is one of [Roles].
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Allows reports whether a user with role r may do what needs role need.
func (r Role) Allows(need Role) bool {
	have, want := slices.Index(Roles, r), slices.Index(Roles, need)
	return have >= 0 && want >= 0 && have >= want
}

// User is a named user of the web app.
type User struct {
	// Name is the login name: 1 to 64 lower-case letters, digits, '.',
	// '_' or '-'.
	Name string
	Role Role
	// PasswordHash is the argon2id hash of the password, from
	// [HashPassword].
	PasswordHash string
	// Phone is where the one-time codes go, in E.164 (+14155550100).
	Phone string
	// Disabled users cannot log in; their sessions end.
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate checks a user before it is stored. Its errors never hold the
// password hash or the phone number.
func (u User) Validate() error {
	if err := ValidUserName(u.Name); err != nil {
		return err
	}
	if !u.Role.Valid() {
		return fmt.Errorf("verify: unknown role %q: use viewer, operator or admin", u.Role)
	}
	if !validE164(u.Phone) {
		return errors.New("verify: the user's phone is not an E.164 number (+ and 8 to 15 digits)")
	}
	if _, err := parseHash(u.PasswordHash); err != nil {
		return err
	}
	return nil
}

// ValidUserName checks a login name: 1 to 64 lower-case letters, digits,
// '.', '_' or '-'.
func ValidUserName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("verify: a user name has 1 to 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return errors.New("verify: a user name has only lower-case letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

func validE164(p string) bool {
	if len(p) < 9 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return false
	}
	for _, r := range p[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Errors of a [UserStore].
var (
	// ErrNoUser: there is no user of that name.
	ErrNoUser = errors.New("verify: no such user")
	// ErrUserExists: a user of that name exists already.
	ErrUserExists = errors.New("verify: a user of that name exists already")
)

// UserStore keeps the users of the web app and their remembered devices.
// [MemoryUsers] is the in-process implementation; sqlitestore.Store
// implements it on its database file.
//
// A remembered device is the SHA-256 (hex) of the random token a browser
// keeps in a cookie after a complete login: see [Login.RememberDevice].
type UserStore interface {
	// CreateUser adds u (u.Validate must pass), setting CreatedAt and
	// UpdatedAt to at. It fails with [ErrUserExists] if the name is taken.
	CreateUser(ctx context.Context, u User, at time.Time) error
	// GetUser returns the user of that name, or [ErrNoUser].
	GetUser(ctx context.Context, name string) (User, error)
	// ListUsers returns every user, by name.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser replaces the role, phone, password hash and Disabled of
	// the user u.Name (u.Validate must pass), setting UpdatedAt to at, or
	// fails with [ErrNoUser]. When the password hash or the phone
	// changes, or the user is disabled, the user's remembered devices are
	// forgotten.
	UpdateUser(ctx context.Context, u User, at time.Time) error
	// AddUserDevice remembers a device of the user name by the hash of
	// its token.
	AddUserDevice(ctx context.Context, name, tokenHash string, at time.Time) error
	// UserHasDevice reports whether tokenHash is a remembered device of
	// the user name.
	UserHasDevice(ctx context.Context, name, tokenHash string) (bool, error)
}

// DeviceTokenHash is the hash a [UserStore] keeps of a device token.
func DeviceTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// MemoryUsers is an in-process [UserStore], for tests and for a
// [Config] with a single Account. It is safe for concurrent use; the zero
// value is ready.
type MemoryUsers struct {
	mu      sync.Mutex
	users   map[string]User
	devices map[string]map[string]bool // user -> token hashes
}

var _ UserStore = (*MemoryUsers)(nil)

// CreateUser implements [UserStore].
func (m *MemoryUsers) CreateUser(ctx context.Context, u User, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users == nil {
		m.users, m.devices = map[string]User{}, map[string]map[string]bool{}
	}
	if _, ok := m.users[u.Name]; ok {
		return ErrUserExists
	}
	u.CreatedAt, u.UpdatedAt = at, at
	m.users[u.Name] = u
	return nil
}

// GetUser implements [UserStore].
func (m *MemoryUsers) GetUser(ctx context.Context, name string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return User{}, ErrNoUser
	}
	return u, nil
}

// ListUsers implements [UserStore].
func (m *MemoryUsers) ListUsers(ctx context.Context) ([]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	us := make([]User, 0, len(m.users))
	for _, u := range m.users {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return us, nil
}

// UpdateUser implements [UserStore].
func (m *MemoryUsers) UpdateUser(ctx context.Context, u User, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.users[u.Name]
	if !ok {
		return ErrNoUser
	}
	if old.PasswordHash != u.PasswordHash || old.Phone != u.Phone || u.Disabled {
		delete(m.devices, u.Name)
	}
	u.CreatedAt, u.UpdatedAt = old.CreatedAt, at
	m.users[u.Name] = u
	return nil
}

// AddUserDevice implements [UserStore].
func (m *MemoryUsers) AddUserDevice(ctx context.Context, name, tokenHash string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; !ok {
		return ErrNoUser
	}
	if m.devices[name] == nil {
		m.devices[name] = map[string]bool{}
	}
	m.devices[name][tokenHash] = true
	return nil
}

// UserHasDevice implements [UserStore].
func (m *MemoryUsers) UserHasDevice(ctx context.Context, name, tokenHash string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.devices[name][tokenHash], nil
}
