package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/verify"
)

// The users of the app live in the store (verify.UserStore). The first
// administrator, "admin", comes from ADMINISTRATOR_PHONE and
// PASSWORD_HASH; administrators manage the others on the Users page, and
// the CLI can create users too (cli users add).

// firstAdmin is the name of the administrator created from the
// configuration.
const firstAdmin = "admin"

// ensureAdmin creates the user "admin" (role admin) with the configured
// phone and password hash when the store has no user (with no such
// configuration, that is a usage error). In dev mode the
// configured (or generated) password and phone always become admin's, and
// admin is an enabled administrator, so that the password printed at
// start works on an existing database too.
func (a *app) ensureAdmin(ctx context.Context) error {
	us, err := a.store.ListUsers(ctx)
	if err != nil {
		return err
	}
	u := verify.User{Name: firstAdmin, Role: verify.RoleAdmin, PasswordHash: a.cfg.PasswordHash, Phone: a.cfg.AdminPhone}
	if len(us) == 0 {
		if a.cfg.AdminPhone == "" || a.cfg.PasswordHash == "" {
			return usagef("the database %s has no user: set ADMINISTRATOR_PHONE and PASSWORD_HASH for the first administrator, "+
				"or add one with go run ./examples/cli users add --db %s", storeopen.Redact(a.cfg.DatabasePath), storeopen.Redact(a.cfg.DatabasePath))
		}
		if err := a.store.CreateUser(ctx, u, a.now()); err != nil {
			return fmt.Errorf("create the first administrator: %w", err)
		}
		a.log.Info("first administrator created", "user", firstAdmin)
		return nil
	}
	if !a.cfg.Dev {
		return nil
	}
	old, err := a.store.GetUser(ctx, firstAdmin)
	switch {
	case errors.Is(err, verify.ErrNoUser):
		err = a.store.CreateUser(ctx, u, a.now())
	case err != nil:
	case old != (verify.User{Name: u.Name, Role: u.Role, PasswordHash: u.PasswordHash, Phone: u.Phone, CreatedAt: old.CreatedAt, UpdatedAt: old.UpdatedAt}):
		err = a.store.UpdateUser(ctx, u, a.now())
	}
	if err != nil {
		return fmt.Errorf("dev mode: set the administrator's password: %w", err)
	}
	return nil
}

type usersPage struct {
	Users []verify.User
	Roles []verify.Role
	// Me is the administrator looking at the page.
	Me string
	// NewPassword, shown once, is the password just given to
	// NewPasswordUser.
	NewPassword, NewPasswordUser string
}

func (a *app) usersPage(w http.ResponseWriter, r *http.Request) {
	a.renderUsers(w, r, http.StatusOK, "", "")
}

func (a *app) renderUsers(w http.ResponseWriter, r *http.Request, status int, user, password string) {
	us, err := a.store.ListUsers(r.Context())
	if err != nil {
		a.internalError(w, r, "listing the users", err)
		return
	}
	me, _ := a.currentUser(r)
	p := usersPage{Users: us, Roles: verify.Roles, Me: me.Name, NewPassword: password, NewPasswordUser: user}
	a.render(w, r, status, "users", pageData{Title: "Users", Nav: "users", Page: p})
}

// userMsg is an error in a form, in words for the administrator.
type userMsg string

func (m userMsg) Error() string { return string(m) }

// userForm reads and checks the role and phone of a user form.
func userForm(r *http.Request) (verify.Role, string, error) {
	role := verify.Role(r.PostFormValue("role"))
	if !role.Valid() {
		return "", "", userMsg("Choose a role: viewer, operator or admin.")
	}
	phone, err := outreach.NormalizePhone(strings.TrimSpace(r.PostFormValue("phone")), "US")
	if err != nil {
		return "", "", userMsg("The phone number is not valid: give it with its country code, such as +14155550100.")
	}
	return role, phone, nil
}

// newPassword hashes the password of the form's field, or a generated one
// when the field is empty; it returns the generated password ("" when
// the administrator set one).
func newPassword(r *http.Request) (hash, generated string, err error) {
	pw := r.PostFormValue("password")
	if pw == "" {
		generated = randomPassword()
		pw = generated
	}
	hash, err = verify.HashPassword(pw)
	switch {
	case errors.Is(err, verify.ErrPasswordTooShort):
		return "", "", userMsg(fmt.Sprintf("The password is too short: use at least %d characters, or leave it empty for a generated one.", verify.MinPasswordLen))
	case errors.Is(err, verify.ErrPasswordTooLong):
		return "", "", userMsg("The password is too long.")
	}
	return hash, generated, err
}

// createUser adds a user; a generated password is shown once.
func (a *app) createUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := strings.ToLower(strings.TrimSpace(r.PostFormValue("name")))
	if err := verify.ValidUserName(name); err != nil {
		a.userError(w, r, "The user name must have 1 to 64 lower-case letters, digits, '.', '_' or '-'.")
		return
	}
	role, phone, err := userForm(r)
	if err != nil {
		a.userError(w, r, err.Error())
		return
	}
	hash, generated, err := newPassword(r)
	if err != nil {
		a.userError(w, r, err.Error())
		return
	}
	err = a.store.CreateUser(ctx, verify.User{Name: name, Role: role, PasswordHash: hash, Phone: phone}, a.now())
	switch {
	case errors.Is(err, verify.ErrUserExists):
		a.userError(w, r, "There is a user of that name already.")
		return
	case err != nil:
		a.internalError(w, r, "creating the user", err)
		return
	}
	a.audit(r, outreach.ActionUserCreated, outreach.ResultOK, "user", name, "role="+string(role))
	a.log.Info("user created", "user", name, "role", role)
	if generated != "" {
		a.renderUsers(w, r, http.StatusOK, name, generated)
		return
	}
	a.flash(r, "User "+name+" created.")
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// updateUser changes a user's role and phone, or disables or enables it.
func (a *app) updateUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, ok := a.pathUser(w, r)
	if !ok {
		return
	}
	role, phone, err := userForm(r)
	if err != nil {
		a.userError(w, r, err.Error())
		return
	}
	u.Role, u.Phone, u.Disabled = role, phone, r.PostFormValue("disabled") != ""
	if ok, err := a.keepsAnAdmin(ctx, u); err != nil {
		a.internalError(w, r, "checking the administrators", err)
		return
	} else if !ok {
		a.userError(w, r, "That would leave no enabled administrator.")
		return
	}
	if err := a.store.UpdateUser(ctx, u, a.now()); err != nil {
		a.internalError(w, r, "changing the user", err)
		return
	}
	a.audit(r, outreach.ActionUserChanged, outreach.ResultOK, "user", u.Name, fmt.Sprintf("role=%s disabled=%v", u.Role, u.Disabled))
	a.log.Info("user changed", "user", u.Name, "role", u.Role, "disabled", u.Disabled)
	a.flash(r, "User "+u.Name+" changed.")
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// resetPassword gives a user a new password (generated and shown once,
// or set by the administrator). The user's remembered devices are
// forgotten.
func (a *app) resetPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, ok := a.pathUser(w, r)
	if !ok {
		return
	}
	hash, generated, err := newPassword(r)
	if err != nil {
		a.userError(w, r, err.Error())
		return
	}
	u.PasswordHash = hash
	if err := a.store.UpdateUser(ctx, u, a.now()); err != nil {
		a.internalError(w, r, "changing the password", err)
		return
	}
	a.audit(r, outreach.ActionUserChanged, outreach.ResultOK, "user", u.Name, "password reset")
	a.log.Info("user password reset", "user", u.Name)
	if generated != "" {
		a.renderUsers(w, r, http.StatusOK, u.Name, generated)
		return
	}
	a.flash(r, "The password of "+u.Name+" was changed.")
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// pathUser reads the user named in the path, or answers 404.
func (a *app) pathUser(w http.ResponseWriter, r *http.Request) (verify.User, bool) {
	u, err := a.store.GetUser(r.Context(), r.PathValue("name"))
	switch {
	case errors.Is(err, verify.ErrNoUser):
		a.errorPage(w, r, http.StatusNotFound, "There is no such user.")
		return verify.User{}, false
	case err != nil:
		a.internalError(w, r, "reading the user", err)
		return verify.User{}, false
	}
	return u, true
}

// keepsAnAdmin reports whether some enabled administrator remains once
// changed replaces the user of its name.
func (a *app) keepsAnAdmin(ctx context.Context, changed verify.User) (bool, error) {
	us, err := a.store.ListUsers(ctx)
	if err != nil {
		return false, err
	}
	for _, u := range us {
		if u.Name == changed.Name {
			u = changed
		}
		if u.Role == verify.RoleAdmin && !u.Disabled {
			return true, nil
		}
	}
	return false, nil
}

// userError shows msg on the Users page.
func (a *app) userError(w http.ResponseWriter, r *http.Request, msg string) {
	a.flashError(r, msg)
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}
