// Package verifytest checks implementations of the verify package's
// store interfaces. Each implementation's test calls it:
//
//	func TestUsers(t *testing.T) {
//		verifytest.ExerciseUsers(t, func(t *testing.T) verify.UserStore { return newStore(t) })
//	}
//	func TestChallenges(t *testing.T) {
//		verifytest.ExerciseChallenges(t, func(t *testing.T) verify.ChallengeStore { return newStore(t) })
//	}
package verifytest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/patient-outreach/sms/verify"
)

// hash is a valid argon2id hash (of a password nobody uses); hash2 another.
const (
	hash  = "$argon2id$v=19$m=19456,t=2,p=1$qGmL+MsMgVtYJ76HNNLUCA$pdrVcMBPJBMZbaA/MMR0eFeFp1b/us8lPUNboh6XxoI"
	hash2 = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$pdrVcMBPJBMZbaA/MMR0eFeFp1b/us8lPUNboh6XxoI"
)

// ExerciseUsers runs every behaviour of [verify.UserStore] against empty
// stores from newStore.
func ExerciseUsers(t *testing.T, newStore func(t *testing.T) verify.UserStore) {
	t.Helper()
	t0 := time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)
	ann := verify.User{Name: "ann", Role: verify.RoleAdmin, PasswordHash: hash, Phone: "+14155550100"}
	bob := verify.User{Name: "bob", Role: verify.RoleViewer, PasswordHash: hash, Phone: "+14155550101"}

	t.Run("create get list", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		if us, err := s.ListUsers(ctx); err != nil || len(us) != 0 {
			t.Fatalf("ListUsers of an empty store = %v, %v", us, err)
		}
		for _, u := range []verify.User{bob, ann} {
			if err := s.CreateUser(ctx, u, t0); err != nil {
				t.Fatalf("CreateUser(%s) = %v", u.Name, err)
			}
		}
		if err := s.CreateUser(ctx, ann, t0); !errors.Is(err, verify.ErrUserExists) {
			t.Errorf("CreateUser(ann) again = %v; want ErrUserExists", err)
		}
		bad := ann
		bad.Name, bad.Role = "carl", "root"
		if err := s.CreateUser(ctx, bad, t0); err == nil {
			t.Error("CreateUser with an unknown role succeeded")
		}
		got, err := s.GetUser(ctx, "ann")
		want := ann
		want.CreatedAt, want.UpdatedAt = t0, t0
		if err != nil || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0) {
			t.Fatalf("GetUser(ann) = %+v, %v", got, err)
		}
		got.CreatedAt, got.UpdatedAt = t0, t0
		if got != want {
			t.Errorf("GetUser(ann) = %+v; want %+v", got, want)
		}
		if _, err := s.GetUser(ctx, "nobody"); !errors.Is(err, verify.ErrNoUser) {
			t.Errorf("GetUser(nobody) = %v; want ErrNoUser", err)
		}
		us, err := s.ListUsers(ctx)
		if err != nil || len(us) != 2 || us[0].Name != "ann" || us[1].Name != "bob" {
			t.Errorf("ListUsers = %+v, %v; want ann, bob", us, err)
		}
	})

	t.Run("update and devices", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		if err := s.CreateUser(ctx, bob, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateUser(ctx, ann, t0); !errors.Is(err, verify.ErrNoUser) {
			t.Errorf("UpdateUser(unknown) = %v; want ErrNoUser", err)
		}
		if err := s.AddUserDevice(ctx, "nobody", "h1", t0); !errors.Is(err, verify.ErrNoUser) {
			t.Errorf("AddUserDevice(unknown user) = %v; want ErrNoUser", err)
		}
		has := func(h string) bool {
			t.Helper()
			ok, err := s.UserHasDevice(ctx, "bob", h)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		for _, h := range []string{"h1", "h1", "h2"} {
			if err := s.AddUserDevice(ctx, "bob", h, t0); err != nil {
				t.Fatalf("AddUserDevice(%s) = %v", h, err)
			}
		}
		if !has("h1") || !has("h2") || has("h3") {
			t.Fatal("devices not remembered")
		}
		if ok, _ := s.UserHasDevice(ctx, "ann", "h1"); ok {
			t.Error("bob's device counts for ann")
		}
		t1 := t0.Add(time.Hour)
		u := bob
		u.Role = verify.RoleOperator
		if err := s.UpdateUser(ctx, u, t1); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, "bob")
		if err != nil || got.Role != verify.RoleOperator || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t1) {
			t.Errorf("after UpdateUser(role) = %+v, %v", got, err)
		}
		if !has("h1") {
			t.Error("a role change forgot the devices")
		}
		for name, mod := range map[string]func(*verify.User){
			"password": func(u *verify.User) { u.PasswordHash = hash2 },
			"phone":    func(u *verify.User) { u.Phone = "+14155550199" },
			"disabled": func(u *verify.User) { u.Disabled = true },
		} {
			if err := s.AddUserDevice(ctx, "bob", "h1", t1); err != nil {
				t.Fatal(err)
			}
			u, _ := s.GetUser(ctx, "bob")
			mod(&u)
			if err := s.UpdateUser(ctx, u, t1); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if has("h1") {
				t.Errorf("a new %s did not forget the devices", name)
			}
			got, _ := s.GetUser(ctx, "bob")
			if got.PasswordHash != u.PasswordHash || got.Phone != u.Phone || got.Disabled != u.Disabled {
				t.Errorf("%s: stored %+v; want %+v", name, got, u)
			}
		}
	})
}
