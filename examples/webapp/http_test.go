package main

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProtectedPagesNeedLogin(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	for _, path := range []string{
		"/", "/campaigns", "/campaigns/new", "/campaigns/1", "/campaigns/1/events", "/campaigns/1/responses.csv", "/campaigns/1/responses.ndjson",
		"/flows", "/flows/provider", "/flows/provider/sample.csv", "/uploads/abc", "/simulator",
	} {
		resp, body := c.get(path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET %s: %s to %q; want 303 to /login\n%s", path, resp.Status, resp.Header.Get("Location"), body)
		}
	}
	for _, path := range []string{
		"/campaigns/new", "/campaigns/1/start", "/campaigns/1/pause", "/campaigns/1/resume", "/campaigns/1/cancel", "/flows",
		"/flows/provider/deploy", "/flows/provider/undeploy", "/flows/x/delete", "/uploads/abc/start",
		"/uploads/abc/discard", "/simulator/reply", "/dev/skip",
	} {
		resp, body := c.postForm(path, url.Values{"x": {"1"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s: %s; want 401\n%s", path, resp.Status, body)
		}
	}
	// Open to all: the login page, static files, health checks.
	for _, path := range []string{"/login", "/static/app.css", "/static/app.js", "/healthz", "/readyz"} {
		if resp, body := c.get(path); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s; want 200\n%s", path, resp.Status, body)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	for _, path := range []string{"/login", "/static/app.js", "/healthz", "/nope"} {
		resp, _ := c.get(path)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s: headers %v", path, h)
		}
		if v := h.Get("Strict-Transport-Security"); v != "" {
			t.Errorf("GET %s: dev mode on http://localhost sent Strict-Transport-Security %q", path, v)
		}
	}
}

// TestHSTS: in real mode with an https PUBLIC_BASE_URL every response
// carries Strict-Transport-Security; served over plain http, or in dev
// mode on localhost, none does.
func TestHSTS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		publicURL string
		want      string
	}{
		{"https://outreach.example.org", "max-age=63072000; includeSubDomains"},
		{"HTTPS://outreach.example.org:8443", "max-age=63072000; includeSubDomains"},
		{"http://outreach.internal:8080", ""},
	} {
		a, _ := newRealServer(t, tc.publicURL)
		for _, req := range []*http.Request{
			httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/login", nil),
			httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/campaigns", nil),
			httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/static/app.css", nil),
			httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/healthz", nil),
			httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/nope", nil),
			httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/twilio/sms", strings.NewReader("Body=x")),
		} {
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, req)
			if got := rec.Header().Get("Strict-Transport-Security"); got != tc.want {
				t.Errorf("PUBLIC_BASE_URL %s, %s %s (%d): Strict-Transport-Security %q; want %q",
					tc.publicURL, req.Method, req.URL.Path, rec.Code, got, tc.want)
			}
		}
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
	} {
		resp, body := c.postForm("/login", url.Values{"user": {"admin"}, "password": {ta.Password}}, hdr...)
		mustStatus(t, "cross-origin POST with "+hdr[0], resp, body, http.StatusForbidden)
		if !strings.Contains(body, "another site") {
			t.Errorf("the refusal does not say why:\n%s", body)
		}
	}
	if loginCode.MatchString(ta.Stderr.String()) {
		t.Fatal("a cross-origin POST reached the login")
	}
	// Same-origin POSTs pass.
	resp, body := c.postForm("/login", url.Values{"user": {"admin"}, "password": {ta.Password}}, "Sec-Fetch-Site", "same-origin", "Origin", ta.URL)
	mustStatus(t, "same-origin POST", resp, body, http.StatusSeeOther)
}

func TestLoginCookieAndRotation(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)

	// A wrong password, then a wrong code, are refused with a message.
	resp, _ := c.postForm("/login", url.Values{"user": {"admin"}, "password": {"not the password"}})
	mustStatus(t, "wrong password", resp, "", http.StatusSeeOther)
	if _, body := c.get("/login"); !strings.Contains(body, "password is not right") {
		t.Fatalf("no message for a wrong password:\n%s", body)
	}
	resp, body := c.postForm("/login", url.Values{"user": {"admin"}, "password": {ta.Password}})
	mustStatus(t, "password", resp, body, http.StatusSeeOther)
	before := c.session.Value
	code := ta.nextCode(t)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	c.postForm("/login/code", url.Values{"code": {wrong}})
	if _, body := c.get("/login"); !strings.Contains(body, "code is not right") {
		t.Fatalf("no message for a wrong code:\n%s", body)
	}
	if resp, _ := c.get("/campaigns"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a wrong code logged in: %s", resp.Status)
	}

	resp, body = c.postForm("/login/code", url.Values{"code": {code}})
	mustStatus(t, "code", resp, body, http.StatusSeeOther)
	var raw string
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "__Host-session=") {
			raw = sc
		}
	}
	if raw == "" {
		t.Fatalf("no session cookie set at login: %v", resp.Header.Values("Set-Cookie"))
	}
	ck, err := http.ParseSetCookie(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("session cookie %q: want Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain", raw)
	}
	if ck.Value == before {
		t.Error("the session token was not renewed at login")
	}
	if resp, body := c.get("/campaigns"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after login: %s\n%s", resp.Status, body)
	}
	// The old token no longer works.
	old := &client{t: t, base: ta.URL, hc: c.hc, session: &http.Cookie{Name: "__Host-session", Value: before}}
	if resp, _ := old.get("/campaigns"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the pre-login token still opens pages: %s", resp.Status)
	}
	// Logging out ends the session.
	token := c.session.Value
	c.postForm("/logout", nil)
	c.session = &http.Cookie{Name: "__Host-session", Value: token}
	if resp, _ := c.get("/campaigns"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the session still works after logout: %s", resp.Status)
	}
	if strings.Contains(ta.Stderr.String(), "level=INFO msg=http method=POST path=/login/code status=303") == false {
		t.Errorf("no access log line for the login")
	}
	if strings.Contains(ta.Stderr.String(), "password="+ta.Password) || strings.Count(ta.Stderr.String(), code) != 1 {
		t.Errorf("the password or the code leaked into the log:\n%s", ta.Stderr.String())
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	// Not in parallel: the session times out in real time, which a
	// busy machine could spend before the test looks.
	ta := startApp(t, func(c *config) { c.IdleTimeout = time.Second })
	c := ta.client(t)
	c.login(ta)
	if resp, _ := c.get("/campaigns"); resp.StatusCode != http.StatusOK {
		t.Fatalf("right after login: %s", resp.Status)
	}
	// Idle time must pass: no request may be made meanwhile.
	time.Sleep(1500 * time.Millisecond)
	resp, _ := c.get("/campaigns")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("after the idle timeout: %s to %q; want 303 to /login", resp.Status, resp.Header.Get("Location"))
	}
}

func TestSessionLifetime(t *testing.T) {
	// Not in parallel: the session times out in real time, which a
	// busy machine could spend before the test looks.
	ta := startApp(t, func(c *config) { c.Lifetime = 2 * time.Second })
	c := ta.client(t)
	c.login(ta)
	start := time.Now()
	for {
		resp, _ := c.get("/campaigns")
		if resp.StatusCode == http.StatusSeeOther {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the session outlived its lifetime while in use")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("the session ended after %v; want about 2s", d)
	}
}

func TestUploadTooLarge(t *testing.T) {
	t.Parallel()
	ta := startApp(t, func(c *config) { c.MaxUploadBytes = 4096 })
	c := ta.client(t)
	c.login(ta)
	big := append([]byte("patient_id,patient_first_name,patient_phone\n"), bytes.Repeat([]byte("P-1,Ann,(440) 555-0142\n"), 1000)...)
	resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded"}, "recipients", "big.csv", big)
	mustStatus(t, "oversized upload", resp, body, http.StatusRequestEntityTooLarge)
	if !strings.Contains(body, "too large") || !strings.Contains(body, "4 KB") {
		t.Errorf("the 413 page does not say what the limit is:\n%s", body)
	}
	// Just under the form's room but over the file limit: csvio refuses it.
	mid := append([]byte("patient_id,patient_first_name,patient_phone\n"), bytes.Repeat([]byte("P-1,Ann,(440) 555-0142\n"), 200)...)
	resp, body = c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded"}, "recipients", "mid.csv", mid)
	mustStatus(t, "upload over MAX_UPLOAD_BYTES", resp, body, http.StatusRequestEntityTooLarge)
}

func TestUploadPreviewAndStart(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)
	file := csvOf("patient_id,patient_first_name,patient_phone",
		"P-1,Ann,(440) 555-0142",
		"P-2,Bob,12",
		"P-3,,208-555-0187")
	resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded"}, "recipients", "list.csv", file)
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	preview := resp.Header.Get("Location")
	resp, body = c.get(preview)
	mustStatus(t, "preview", resp, body, http.StatusOK)
	for _, want := range []string{"Line 3, column patient_phone", "Line 4, column patient_first_name", "Hi Ann", "Start the campaign for 2 recipients"} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview lacks %q:\n%s", want, body)
		}
	}
	// Another session cannot use the upload.
	other := ta.client(t)
	other.login(ta)
	if resp, _ := other.get(preview); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another session opened the upload: %s", resp.Status)
	}
	resp, body = c.postForm(preview+"/start", nil)
	mustStatus(t, "start", resp, body, http.StatusSeeOther)
	if !strings.HasPrefix(resp.Header.Get("Location"), "/campaigns/") {
		t.Fatalf("start went to %q", resp.Header.Get("Location"))
	}
	if resp, _ := c.postForm(preview+"/start", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an upload started twice: %s", resp.Status)
	}
	resp, body = c.get(resp.Header.Get("Location"))
	mustStatus(t, "campaign page", resp, body, http.StatusOK)
	if !strings.Contains(body, `data-counter="queued"`) {
		t.Errorf("no counters on the campaign page:\n%s", body)
	}
}

// TestUploadRequireConsent checks the new campaign form's "Require a
// consent column": the choice reaches csvio, the preview lists rows
// without consent with the other row errors, and only consenting rows
// become recipients; a file without the column is refused.
func TestUploadRequireConsent(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)
	resp, body := c.get("/campaigns/new")
	mustStatus(t, "new campaign page", resp, body, http.StatusOK)
	if !strings.Contains(body, `name="require_consent"`) || !strings.Contains(body, "Require a consent column") {
		t.Errorf("the new campaign page has no consent checkbox:\n%s", body)
	}
	file := csvOf("patient_id,patient_first_name,patient_phone,consent",
		"P-1,Ann,(440) 555-0142,yes",
		"P-2,Bob,208-555-0187,no",
		"P-3,Cy,602-555-0113,",
		"P-4,Di,12,yes")
	fields := map[string]string{"flow": "provider", "runtime": "embedded", "require_consent": "1"}
	resp, body = c.postFile("/campaigns/new", fields, "recipients", "list.csv", file)
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	preview := resp.Header.Get("Location")
	resp, body = c.get(preview)
	mustStatus(t, "preview", resp, body, http.StatusOK)
	for _, want := range []string{
		`id="consent-note"`,
		"Line 3, column consent: no consent recorded (consent must be yes, true or 1)",
		"Line 4, column consent: no consent recorded",
		"Line 5, column patient_phone",
		"Start the campaign for 1 recipient<",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview lacks %q:\n%s", want, body)
		}
	}

	// Without the box, the same file has no consent errors.
	delete(fields, "require_consent")
	resp, body = c.postFile("/campaigns/new", fields, "recipients", "list.csv", file)
	mustStatus(t, "upload without consent", resp, body, http.StatusSeeOther)
	resp, body = c.get(resp.Header.Get("Location"))
	mustStatus(t, "preview without consent", resp, body, http.StatusOK)
	if strings.Contains(body, "column consent") || strings.Contains(body, `id="consent-note"`) || !strings.Contains(body, "Start the campaign for 3 recipients") {
		t.Errorf("without the box the preview reports consent:\n%s", body)
	}

	// A file without the column is refused, saying why.
	fields["require_consent"] = "1"
	resp, body = c.postFile("/campaigns/new", fields, "recipients", "list.csv", csvOf("patient_id,patient_first_name,patient_phone", "P-1,Ann,(440) 555-0142"))
	mustStatus(t, "upload without the column", resp, body, http.StatusSeeOther)
	resp, body = c.get(resp.Header.Get("Location"))
	mustStatus(t, "back to the form", resp, body, http.StatusOK)
	if !strings.Contains(body, "missing required column consent") {
		t.Errorf("the refusal does not name the consent column:\n%s", body)
	}
}

func TestWebhooksRefuseBadSignatures(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	form := url.Values{"MessageSid": {"SM123"}, "From": {"+14405550142"}, "To": {devNumber}, "Body": {"hi"}, "MessageStatus": {"delivered"}}
	for _, path := range []string{"/twilio/sms", "/twilio/status"} {
		resp, body := c.postForm(path, form)
		mustStatus(t, path+" unsigned", resp, body, http.StatusForbidden)
		resp, body = c.postForm(path, form, "X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")
		mustStatus(t, path+" badly signed", resp, body, http.StatusForbidden)
		// Webhooks are exempt from the CSRF check (Twilio is another origin).
		resp, body = c.postForm(path, form, "Sec-Fetch-Site", "cross-site", "X-Twilio-Signature", "x")
		mustStatus(t, path+" cross-site", resp, body, http.StatusForbidden)
	}
	if c.session != nil {
		t.Error("a webhook set a session cookie")
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, body := c.get(p)
		mustStatus(t, p, resp, body, http.StatusOK)
	}
}

func TestReadyzFailsWithoutDatabase(t *testing.T) {
	t.Parallel()
	stderr := &syncBuffer{}
	cfg, err := loadConfig([]string{"-env-file", "", "-database-url", filepath.Join(t.TempDir(), "o.db")}, func(string) string { return "" }, stderr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PublicBaseURL = "http://localhost:1"
	a, err := newServer(t.Context(), cfg, stderr, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("readyz with the database: %d", rec.Code)
	}
	a.store.Close()
	rec = httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz without the database: %d; want 503", rec.Code)
	}
	rec = httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("healthz without the database: %d; want 200", rec.Code)
	}
}

func TestRunConfigErrors(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"other database", []string{"-database-url", "mysql://u@h/db"}, env(), "postgres:// URL"},
		{"half credentials", nil, env("TWILIO_ACCOUNT_SID", "AC123"), "both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"},
		{"no number", nil, env("ACCOUNT_SID", "AC1", "AUTH_TOKEN", "tok"), "TWILIO_PHONE_NUMBER"},
		{"bad window", []string{"-send-window", "9-5"}, env(), "SEND_WINDOW"},
		{"bad upload limit", nil, env("MAX_UPLOAD_BYTES", "lots"), "MAX_UPLOAD_BYTES"},
		{"negative retention", nil, env("RETENTION_DAYS", "-1"), "RETENTION_DAYS"},
		{"retention in months", nil, env("RETENTION_DAYS", "12m"), "RETENTION_DAYS"},
		{"short password", nil, env("APPLICATION_PASSWORD", "short"), "APPLICATION_PASSWORD"},
		{"bad hash", nil, env("PASSWORD_HASH", "plain"), "PASSWORD_HASH"},
		{"bad base URL", nil, env("PUBLIC_BASE_URL", "outreach.example.org"), "PUBLIC_BASE_URL"},
		{"argument", []string{"serve"}, env(), "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(t.Context(), append([]string{"-env-file", ""}, tc.args...), tc.env, strings.NewReader(""), &out, &errb)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v; want a usage error (exit 2) saying %q", err, tc.want)
			}
		})
	}
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"-help"}, env(), nil, &out, &errb); !errors.Is(err, flag.ErrHelp) || !strings.Contains(errb.String(), "-public-base-url") {
		t.Fatalf("-help: %v\n%s", err, errb.String())
	}
}

func TestLoginLockout(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	for range 5 {
		c.postForm("/login", url.Values{"user": {"admin"}, "password": {"wrong password!"}})
	}
	c.postForm("/login", url.Values{"user": {"admin"}, "password": {ta.Password}})
	_, body := c.get("/login")
	if !strings.Contains(body, "Too many failed attempts. Try again in 1 minute.") {
		t.Fatalf("no lockout message:\n%s", body)
	}
	if loginCode.MatchString(ta.Stderr.String()) {
		t.Fatal("a locked-out login sent a code")
	}
}

// TestUploadFHIR: FHIR Patients (NDJSON) go through the same preview as a
// CSV, their errors naming the resource and element; the campaign's
// answers download as FHIR QuestionnaireResponses too.
func TestUploadFHIR(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)
	file := []byte(`{"resourceType":"Patient","id":"a1","name":[{"use":"official","given":["Ann"]}],"telecom":[{"system":"phone","value":"(440) 555-0142","use":"mobile"}]}
{"resourceType":"Patient","id":"b2","deceasedBoolean":true,"telecom":[{"system":"sms","value":"208-555-0187"}]}
`)
	resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded"}, "recipients", "patients.ndjson", file)
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	preview := resp.Header.Get("Location")
	resp, body = c.get(preview)
	mustStatus(t, "preview", resp, body, http.StatusOK)
	for _, want := range []string{"Line 2, resource b2, element Patient.deceasedBoolean: the patient is deceased", "Hi Ann", "Start the campaign for 1 recipient"} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview lacks %q:\n%s", want, body)
		}
	}
	resp, body = c.postForm(preview+"/start", nil)
	mustStatus(t, "start", resp, body, http.StatusSeeOther)
	campaign := resp.Header.Get("Location")
	resp, body = c.get(campaign)
	mustStatus(t, "campaign page", resp, body, http.StatusOK)
	if !strings.Contains(body, campaign+"/responses.ndjson") {
		t.Errorf("no FHIR download on the campaign page:\n%s", body)
	}
	resp, body = c.get(campaign + "/responses.ndjson")
	mustStatus(t, "FHIR download", resp, body, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+ndjson" || !strings.Contains(body, `"resourceType":"QuestionnaireResponse"`) || !strings.Contains(body, `"reference":"Patient/a1"`) {
		t.Errorf("FHIR download (%s):\n%s", ct, body)
	}
}
