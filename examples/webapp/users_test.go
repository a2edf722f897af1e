package main

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/verify"
)

var generatedPassword = regexp.MustCompile(`id="generated-password">([^<]+)<`)

// addUser creates a user on the Users page as the administrator c and
// returns the password (the generated one when password is "").
func addUser(t *testing.T, c *client, name, role, phone, password string) string {
	t.Helper()
	resp, body := c.postForm("/users", url.Values{"name": {name}, "role": {role}, "phone": {phone}, "password": {password}})
	if password != "" {
		mustStatus(t, "add "+name, resp, body, http.StatusSeeOther)
		return password
	}
	mustStatus(t, "add "+name, resp, body, http.StatusOK)
	m := generatedPassword.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("add %s: no generated password on the page:\n%s", name, body)
	}
	return m[1]
}

func TestRoles(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	adm := ta.client(t)
	adm.login(ta)
	veraPass := addUser(t, adm, "vera", "viewer", "+15005550111", "")
	addUser(t, adm, "otto", "operator", "(500) 555-0112", "the operator's own password")
	page := startCampaign(t, adm, "Roles", csvOf("patient_id,patient_first_name,patient_phone", "M-1,Ana,(440) 555-0142"))

	vera := ta.client(t)
	vera.loginAs(ta, "vera", veraPass)
	for _, path := range []string{"/campaigns", page, page + "/responses.csv", "/flows", "/flows/provider"} {
		resp, body := vera.get(path)
		mustStatus(t, "viewer GET "+path, resp, body, http.StatusOK)
	}
	if _, body := vera.get("/campaigns"); strings.Contains(body, `href="/users"`) || strings.Contains(body, `href="/campaigns/new"`) {
		t.Error("the viewer's menu links to pages she may not use")
	}
	for path, form := range map[string]string{
		"/flows/provider": `action="/flows/provider/deploy"`, "/optouts": `id="import-optouts"`, page: `/pause"`,
	} {
		if _, body := vera.get(path); strings.Contains(body, form) {
			t.Errorf("%s shows the viewer a form she may not use: %s", path, form)
		}
		if _, body := adm.get(path); !strings.Contains(body, form) {
			t.Errorf("%s does not show the administrator %s", path, form)
		}
	}
	forbidden := func(who string, c *client, method, path string) {
		t.Helper()
		var resp *http.Response
		var body string
		if method == http.MethodGet {
			resp, body = c.get(path)
		} else {
			resp, body = c.postForm(path, url.Values{"role": {"admin"}, "phone": {"+15005550111"}, "name": {"mallory"}})
		}
		mustStatus(t, who+" "+method+" "+path, resp, body, http.StatusForbidden)
	}
	for _, action := range []string{"start", "pause", "resume", "cancel"} {
		forbidden("viewer", vera, http.MethodPost, page+"/"+action)
	}
	forbidden("viewer", vera, http.MethodGet, "/optouts.csv")
	forbidden("viewer", vera, http.MethodPost, "/optouts")
	forbidden("viewer", vera, http.MethodGet, "/campaigns/new")
	forbidden("viewer", vera, http.MethodPost, "/flows/provider/deploy")
	forbidden("viewer", vera, http.MethodGet, "/users")

	// Each refusal is in the audit trail, as the action it would have been.
	_, trail := adm.get("/audit.csv?actor=vera")
	campaignID := strings.TrimPrefix(page, "/campaigns/")
	for _, want := range []string{
		"vera,campaign.started,denied,campaign," + campaignID, "vera,campaign.cancelled,denied,campaign," + campaignID,
		"vera,optouts.exported,denied", "vera,optouts.imported,denied", "vera,flow.deployed,denied,flow,provider",
		"vera,access.denied,denied,route,GET /users",
	} {
		if !strings.Contains(trail, want) {
			t.Errorf("the audit trail lacks %q:\n%s", want, trail)
		}
	}

	otto := ta.client(t)
	otto.loginAs(ta, "otto", "the operator's own password")
	forbidden("operator", otto, http.MethodGet, "/users")
	forbidden("operator", otto, http.MethodPost, "/users")
	forbidden("operator", otto, http.MethodPost, "/users/vera")
	forbidden("operator", otto, http.MethodPost, "/users/otto")
	forbidden("operator", otto, http.MethodPost, "/users/admin/password")
	resp, body := otto.postForm(page+"/pause", nil)
	mustStatus(t, "operator pause", resp, body, http.StatusSeeOther)
	resp, body = otto.get("/optouts.csv")
	mustStatus(t, "operator opt-out export", resp, body, http.StatusOK)
	if _, body := adm.get("/users"); !strings.Contains(body, "<td>vera</td>\n  <td>viewer</td>") ||
		!strings.Contains(body, "<td>otto</td>\n  <td>operator</td>") || strings.Contains(body, "mallory") {
		t.Errorf("an operator changed the users:\n%s", body)
	}

	// The administrator makes vera an operator: her next request may
	// resume the campaign. Disabled, her session ends.
	resp, body = adm.postForm("/users/vera", url.Values{"role": {"operator"}, "phone": {"+15005550111"}})
	mustStatus(t, "make vera an operator", resp, body, http.StatusSeeOther)
	resp, body = vera.postForm(page+"/resume", nil)
	mustStatus(t, "vera resumes", resp, body, http.StatusSeeOther)
	resp, body = adm.postForm("/users/vera", url.Values{"role": {"operator"}, "phone": {"+15005550111"}, "disabled": {"1"}})
	mustStatus(t, "disable vera", resp, body, http.StatusSeeOther)
	if resp, _ := vera.get("/campaigns"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("a disabled user's session: %s to %q; want the login page", resp.Status, resp.Header.Get("Location"))
	}
	vera.postForm("/login", url.Values{"user": {"vera"}, "password": {veraPass}})
	if _, body := vera.get("/login"); !strings.Contains(body, "password is not right") {
		t.Errorf("a disabled user could log in:\n%s", body)
	}
}

func TestUsersPage(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	adm := ta.client(t)
	adm.login(ta)
	pass := addUser(t, adm, "ann.lee", "viewer", "+15005550111", "")
	_, body := adm.get("/users")
	for _, want := range []string{"ann.lee", "viewer", "admin", "0111"} {
		if !strings.Contains(body, want) {
			t.Errorf("the Users page does not show %q", want)
		}
	}
	if strings.Contains(body, pass) {
		t.Error("the generated password is shown again")
	}
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"name": {"ann.lee"}, "role": {"viewer"}, "phone": {"+15005550111"}}, "a user of that name already"},
		{url.Values{"name": {"Bob Smith"}, "role": {"viewer"}, "phone": {"+15005550111"}}, "lower-case letters"},
		{url.Values{"name": {"bob"}, "role": {"root"}, "phone": {"+15005550111"}}, "Choose a role"},
		{url.Values{"name": {"bob"}, "role": {"viewer"}, "phone": {"12"}}, "phone number is not valid"},
		{url.Values{"name": {"bob"}, "role": {"viewer"}, "phone": {"+15005550111"}, "password": {"short"}}, "too short"},
	} {
		resp, body := adm.postForm("/users", c.form)
		mustStatus(t, "add "+c.form.Get("name"), resp, body, http.StatusSeeOther)
		if _, body = adm.get("/users"); !strings.Contains(body, c.want) {
			t.Errorf("add %v: the page does not say %q", c.form, c.want)
		}
	}
	// The last administrator cannot demote or disable himself.
	adm.postForm("/users/admin", url.Values{"role": {"viewer"}, "phone": {devAdminPhone}})
	if _, body = adm.get("/users"); !strings.Contains(body, "no enabled administrator") {
		t.Error("the last administrator demoted himself")
	}
	// A password reset shows a new password once; the old one stops working.
	resp, body := adm.postForm("/users/ann.lee/password", nil)
	mustStatus(t, "reset", resp, body, http.StatusOK)
	m := generatedPassword.FindStringSubmatch(body)
	if m == nil || m[1] == pass {
		t.Fatalf("reset: no new password:\n%s", body)
	}
	ann := ta.client(t)
	ann.postForm("/login", url.Values{"user": {"ann.lee"}, "password": {pass}})
	if _, body := ann.get("/login"); !strings.Contains(body, "password is not right") {
		t.Error("the old password still works")
	}
	ann.loginAs(ta, "ann.lee", m[1])
	if resp, _ := adm.postForm("/users/nobody", url.Values{"role": {"viewer"}, "phone": {"+15005550111"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("changing an unknown user: %s", resp.Status)
	}
}

// A stranger failing on the account (from the same address even) does not
// keep out the administrator on the browser he logged in from before.
func TestRememberedDevice(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)
	if c.device == nil || !c.device.Secure || !c.device.HttpOnly || c.device.SameSite != http.SameSiteLaxMode || c.device.MaxAge <= 0 {
		t.Fatalf("device cookie %+v", c.device)
	}
	c.postForm("/logout", nil)
	stranger := ta.client(t)
	for range 6 {
		stranger.postForm("/login", url.Values{"user": {"admin"}, "password": {"wrong password!"}})
	}
	if _, body := stranger.get("/login"); !strings.Contains(body, "Too many failed attempts") {
		t.Fatalf("the stranger is not throttled:\n%s", body)
	}
	first := c.device.Value
	c.login(ta)
	if c.device.Value != first {
		t.Error("a remembered browser got a new device token")
	}
	// Without the cookie, the account is throttled.
	c.device = nil
	c.postForm("/logout", nil)
	c.postForm("/login", url.Values{"user": {"admin"}, "password": {ta.Password}})
	if _, body := c.get("/login"); !strings.Contains(body, "Too many failed attempts") {
		t.Errorf("without the device cookie the login was not throttled:\n%s", body)
	}
}

// X-Forwarded-For does not spread the attempts of one client over many
// addresses unless TRUSTED_PROXY names the proxy.
func TestForwardedForIgnoredWithoutTrustedProxy(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	for i := range 6 {
		c.postForm("/login", url.Values{"user": {"nobody" + string(rune('a'+i))}, "password": {"wrong password!"}},
			"X-Forwarded-For", "198.51.100."+string(rune('1'+i)))
	}
	if _, body := c.get("/login"); !strings.Contains(body, "Too many failed attempts") {
		t.Fatalf("X-Forwarded-For dodged the address limit:\n%s", body)
	}
}

// With real Twilio, the first administrator comes from ADMINISTRATOR_PHONE
// and PASSWORD_HASH, or from the database (cli users add); with neither
// the app refuses to start, saying what to do.
func TestFirstAdministrator(t *testing.T) {
	t.Parallel()
	fake := twiliotest.New(twiliotest.Options{Clock: clocktest.Manual(t), Numbers: []string{"+15005550006"}})
	t.Cleanup(fake.Close)
	db := filepath.Join(t.TempDir(), "o.db")
	env := map[string]string{
		"TWILIO_ACCOUNT_SID": fake.AccountSID(), "TWILIO_AUTH_TOKEN": fake.AuthToken(),
		"TWILIO_PHONE_NUMBER": "+15005550006", "PUBLIC_BASE_URL": "https://outreach.example.org",
	}
	start := func() (*app, error) {
		t.Helper()
		cfg, err := loadConfig([]string{"-env-file", "", "-database-url", db}, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			return nil, err
		}
		cfg.twilioHTTP = fake.HTTPClient()
		return newServer(t.Context(), cfg, io.Discard, slog.New(slog.DiscardHandler))
	}
	var ue *usageError
	if _, err := start(); !errors.As(err, &ue) || !strings.Contains(err.Error(), "users add") {
		t.Fatalf("start with no user and no first administrator = %v; want a usage error", err)
	}
	env["ADMINISTRATOR_PHONE"] = "+14155550100"
	if _, err := start(); !errors.As(err, &ue) || !strings.Contains(err.Error(), "PASSWORD_HASH") {
		t.Fatalf("ADMINISTRATOR_PHONE without PASSWORD_HASH = %v; want a usage error", err)
	}
	delete(env, "ADMINISTRATOR_PHONE")

	// A user added by the CLI is enough; no "admin" is created.
	s, err := sqlitestore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := verify.HashPassword("the chief's own password")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(t.Context(), verify.User{Name: "chief", Role: verify.RoleAdmin, PasswordHash: hash, Phone: "+14155550101"}, clocktest.Start(t)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	a, err := start()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	us, err := a.store.ListUsers(t.Context())
	if err != nil || len(us) != 1 || us[0].Name != "chief" {
		t.Errorf("users = %+v, %v; want chief alone", us, err)
	}
}

// Behind a trusted proxy, X-Forwarded-For names the client: clients are
// counted apart, and one client is still throttled.
func TestForwardedForFromTrustedProxy(t *testing.T) {
	t.Parallel()
	ta := startApp(t, func(cfg *config) {
		var err error
		if cfg.TrustedProxies, err = verify.ParseTrustedProxies("127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	})
	c := ta.client(t)
	fail := func(i int, client string) string {
		c.postForm("/login", url.Values{"user": {"nobody" + string(rune('a'+i))}, "password": {"wrong password!"}},
			"X-Forwarded-For", "1.2.3.4, "+client)
		_, body := c.get("/login")
		return body
	}
	for i := range 6 {
		if body := fail(i, "198.51.100."+string(rune('1'+i))); strings.Contains(body, "Too many failed attempts") {
			t.Fatalf("try %d: distinct clients behind the proxy were throttled together", i)
		}
	}
	var body string
	for i := range 6 {
		body = fail(i, "203.0.113.7")
	}
	if !strings.Contains(body, "Too many failed attempts") {
		t.Errorf("one client behind the proxy was not throttled:\n%s", body)
	}
}
