package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/verify"
)

// The login is two steps (verify.Login): the user's name and password,
// then a 6-digit code texted to the user's phone (printed on the terminal
// in dev mode). The challenge between the two steps is kept in the
// session; the session token is renewed once both pass, and the browser
// gets a remembered-device cookie: its later logins are throttled on
// their own, so that strangers failing on the account cannot keep the
// user out.

// deviceCookie is the remembered-device cookie's name.
const deviceCookie = "__Host-device"

// deviceLifetime is how long a browser stays remembered.
const deviceLifetime = 180 * 24 * time.Hour

type loginView struct {
	CodeStep    bool
	MaskedPhone string
}

// clientAddr is the client's address for the login throttle: the TCP
// peer, or what trusted proxies (TRUSTED_PROXY) say in X-Forwarded-For.
func (a *app) clientAddr(r *http.Request) string {
	return verify.ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), a.cfg.TrustedProxies)
}

// deviceToken is the remembered-device token the browser sent, or "".
func deviceToken(r *http.Request) string {
	if c, err := r.Cookie(deviceCookie); err == nil {
		return c.Value
	}
	return ""
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if a.sessions.GetString(ctx, "user") != "" {
		http.Redirect(w, r, "/campaigns", http.StatusSeeOther)
		return
	}
	v := loginView{
		CodeStep:    a.sessions.GetString(ctx, "challenge") != "",
		MaskedPhone: a.sessions.GetString(ctx, "challenge_phone"),
	}
	a.render(w, r, http.StatusOK, "login", pageData{Title: "Log in", Page: v})
}

func (a *app) loginPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := strings.ToLower(strings.TrimSpace(r.PostFormValue("user")))
	ch, err := a.login.CheckPasswordOnDevice(ctx, name, a.clientAddr(r), deviceToken(r), r.PostFormValue("password"))
	if err != nil {
		a.loginFailed(w, r, err, false)
		return
	}
	a.sessions.Put(ctx, "challenge", ch.Token)
	a.sessions.Put(ctx, "challenge_user", name)
	a.sessions.Put(ctx, "challenge_phone", ch.MaskedPhone)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *app) loginCode(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := a.sessions.GetString(ctx, "challenge")
	account := a.sessions.GetString(ctx, "challenge_user")
	if token == "" || account == "" {
		a.flashError(r, "Your login has expired. Enter your password again.")
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	code := strings.Join(strings.Fields(r.PostFormValue("code")), "")
	if err := a.login.CheckCode(ctx, account, a.clientAddr(r), token, code); err != nil {
		a.loginFailed(w, r, err, true)
		return
	}
	// A new session id for the logged-in session (no fixation).
	if err := a.sessions.RenewToken(ctx); err != nil {
		a.internalError(w, r, "starting the session", err)
		return
	}
	a.sessions.Remove(ctx, "challenge")
	a.sessions.Remove(ctx, "challenge_phone")
	a.sessions.Remove(ctx, "challenge_user")
	a.sessions.Put(ctx, "user", account)
	if device, err := a.login.RememberDevice(ctx, account, deviceToken(r)); err != nil {
		a.log.Error("login: remember the device", "err", err)
	} else {
		http.SetCookie(w, &http.Cookie{
			Name: deviceCookie, Value: device, Path: "/", MaxAge: int(deviceLifetime / time.Second),
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		})
	}
	a.audit(r, outreach.ActionLoginSucceeded, outreach.ResultOK, "user", account, "")
	a.log.Info("login", "user", account)
	http.Redirect(w, r, "/campaigns", http.StatusSeeOther)
}

// loginFailed says what went wrong, in words for the user, without
// saying whether the account name or the password was wrong.
func (a *app) loginFailed(w http.ResponseWriter, r *http.Request, err error, codeStep bool) {
	ctx := r.Context()
	// The name typed (never the password or code), or the one whose code
	// was asked for.
	name := strings.ToLower(strings.TrimSpace(r.PostFormValue("user")))
	if codeStep {
		name = a.sessions.GetString(ctx, "challenge_user")
	}
	if name == "" {
		name = "-"
	}
	a.auditAs(r, name, outreach.ActionLoginFailed, outreach.ResultFailed, "user", name, loginFailure(err, codeStep))
	var locked *verify.LockedOutError
	var msg string
	switch {
	case errors.Is(err, verify.ErrWrongPassword):
		msg = "That user name or password is not right."
	case errors.Is(err, verify.ErrWrongCode):
		msg = "That code is not right. Check the latest text message and type its 6 digits."
	case errors.Is(err, verify.ErrExpired):
		msg = "The code has expired or was already used. Enter your password again to get a new one."
		a.sessions.Remove(ctx, "challenge")
		a.sessions.Remove(ctx, "challenge_phone")
		a.sessions.Remove(ctx, "challenge_user")
	case errors.As(err, &locked):
		msg = fmt.Sprintf("Too many failed attempts. Try again in %s.", roundUp(locked.RetryAfter))
	case errors.Is(err, verify.ErrTooManyCodes):
		msg = "Too many codes were sent to this phone. Wait 10 minutes, then try again."
	default:
		var se *verify.SenderError
		if errors.As(err, &se) {
			a.log.Error("login: code sender failed", "op", se.Op, "err", err)
			msg = "The login code could not be sent or checked. Try again in a moment."
		} else {
			a.internalError(w, r, "checking the login", err)
			return
		}
	}
	a.log.Info("login failed", "step", map[bool]string{false: "password", true: "code"}[codeStep])
	a.flashError(r, msg)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// roundUp writes d, rounded up, in seconds under a minute, else in minutes.
func roundUp(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 60 {
		return plural(secs, "second")
	}
	return plural((secs+59)/60, "minute")
}

// loginRestart drops a pending code step.
func (a *app) loginRestart(w http.ResponseWriter, r *http.Request) {
	a.sessions.Remove(r.Context(), "challenge")
	a.sessions.Remove(r.Context(), "challenge_phone")
	a.sessions.Remove(r.Context(), "challenge_user")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Destroy(r.Context()); err != nil {
		a.internalError(w, r, "logging out", err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
