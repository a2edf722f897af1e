package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/verify"
)

// syncBuffer is the app's stderr in tests: the banner, the login codes and
// the logs, written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls the buffer until re has matched n times, and returns the
// first group of the n-th match.
func (b *syncBuffer) waitFor(t testing.TB, re *regexp.Regexp, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindAllStringSubmatch(b.String(), -1); len(m) >= n {
			return m[n-1][1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d-th match of %v in stderr:\n%s", n, re, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	bannerURL = regexp.MustCompile(`open:\s+(http://localhost:\d+)`)
	loginCode = regexp.MustCompile(`login code for \S+ is (\d{6})`)
)

// testApp is the web app in dev mode, served on a loopback port as
// `go run ./examples/webapp` serves it.
type testApp struct {
	URL      string
	Password string
	Stderr   *syncBuffer
	DBPath   string
	codes    int // login codes read so far
	stop     func()
}

// startApp runs serve in dev mode with a fresh database, an always-open
// sending window and the dev clock starting at clocktest.Start; mod
// changes the configuration first. The server is shut down (gracefully)
// when the test ends, or by ta.Stop.
func startApp(t *testing.T, mod func(*config)) *testApp {
	t.Helper()
	stderr := &syncBuffer{}
	db := filepath.Join(t.TempDir(), "outreach.db")
	cfg, err := loadConfig([]string{
		"-env-file", "", "-listen-addr", "127.0.0.1:0", "-database-url", db, "-send-window", "00:00-24:00",
		"-dev-clock-start", clocktest.Start(t).Format(time.RFC3339),
	}, func(string) string { return "" }, stderr)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, stderr) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("serve did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	})
	u := stderr.waitFor(t, bannerURL, 1)
	if !strings.Contains(stderr.String(), "  user:      admin\n") {
		t.Fatalf("the dev banner does not say which user to log in as:\n%s", stderr.String())
	}
	return &testApp{URL: u, Password: cfg.DevPassword, Stderr: stderr, DBPath: cfg.DatabasePath, stop: stop}
}

// Stop shuts the server down gracefully, as SIGTERM does.
func (ta *testApp) Stop() { ta.stop() }

// nextCode waits for the next login code printed on stderr.
func (ta *testApp) nextCode(t testing.TB) string {
	t.Helper()
	ta.codes++
	return ta.Stderr.waitFor(t, loginCode, ta.codes)
}

// client is an HTTP client that keeps the session cookie by hand: Go's
// cookie jar does not send Secure cookies over http, which browsers do
// for localhost.
type client struct {
	t       *testing.T
	base    string
	session *http.Cookie
	device  *http.Cookie // the remembered-device cookie
	hc      *http.Client
}

func (ta *testApp) client(t *testing.T) *client {
	return &client{t: t, base: ta.URL, hc: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}
}

func (c *client) do(method, path string, body io.Reader, contentType string, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c.session != nil {
		req.AddCookie(c.session)
	}
	if c.device != nil {
		req.AddCookie(c.device)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		c.t.Fatal(err)
	}
	for _, ck := range resp.Cookies() {
		switch ck.Name {
		case "__Host-session":
			if ck.MaxAge < 0 {
				c.session = nil
			} else {
				c.session = ck
			}
		case deviceCookie:
			c.device = ck
		}
	}
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, "")
}

func (c *client) postForm(path string, v url.Values, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	return c.do(http.MethodPost, path, strings.NewReader(v.Encode()), "application/x-www-form-urlencoded", hdr...)
}

// postFile posts a multipart form with fields and one file.
func (c *client) postFile(path string, fields map[string]string, fileField, fileName string, content []byte) (*http.Response, string) {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile(fileField, fileName)
	if err != nil {
		c.t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	return c.do(http.MethodPost, path, &buf, mw.FormDataContentType())
}

// login logs in with the password and the code printed on stderr.
func (c *client) login(ta *testApp) {
	c.t.Helper()
	c.loginAs(ta, firstAdmin, ta.Password)
}

// loginAs logs in as the user name with password and the code printed on
// stderr.
func (c *client) loginAs(ta *testApp, name, password string) {
	c.t.Helper()
	resp, body := c.postForm("/login", url.Values{"user": {name}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther || c.session == nil {
		c.t.Fatalf("password step: %s, session cookie %v\n%s", resp.Status, c.session, body)
	}
	code := ta.nextCode(c.t)
	resp, body = c.postForm("/login/code", url.Values{"code": {code}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/campaigns" {
		c.t.Fatalf("code step: %s to %q\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
}

func mustStatus(t *testing.T, what string, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %s; want %d\n%s", what, resp.Status, want, body)
	}
}

func csvOf(rows ...string) []byte {
	return []byte(strings.Join(rows, "\n") + "\n")
}

// newRealServer returns the app in real mode (Twilio credentials given),
// a fake Twilio standing in for Twilio, with PUBLIC_BASE_URL publicURL,
// and the environment it was configured from. It is not listening: call
// its handler. It is closed when the test ends.
func newRealServer(t *testing.T, publicURL string) (*app, func(string) string) {
	t.Helper()
	fake := twiliotest.New(twiliotest.Options{Clock: clocktest.Manual(t), Numbers: []string{"+15005550006"}})
	t.Cleanup(fake.Close)
	return newRealServerOn(t, fake, publicURL, t.TempDir()+"/o.db")
}

// realPassword is the administrator's password of newRealServerOn;
// realAdminPhone where the administrator's codes go.
const (
	realPassword   = "correct horse battery"
	realAdminPhone = "+14155550100"
)

// newRealServerOn is newRealServer on the fake Twilio fake and the
// database db (an SQLite file or a postgres:// URL): several apps on one
// fake and one database are replicas of one deployment.
func newRealServerOn(t *testing.T, fake *twiliotest.Server, publicURL, db string) (*app, func(string) string) {
	t.Helper()
	hash, err := verify.HashPassword(realPassword)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TWILIO_ACCOUNT_SID": fake.AccountSID(), "TWILIO_AUTH_TOKEN": fake.AuthToken(),
		"TWILIO_PHONE_NUMBER": "+15005550006", "ADMINISTRATOR_PHONE": realAdminPhone,
		"PASSWORD_HASH": hash, "PUBLIC_BASE_URL": publicURL,
	}
	getenv := func(k string) string { return env[k] }
	stderr := &syncBuffer{}
	cfg, err := loadConfig([]string{"-env-file", "", "-listen-addr", "127.0.0.1:0", "-database-url", db, "-send-window", "00:00-24:00"}, getenv, stderr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.twilioHTTP = fake.HTTPClient()
	a, err := newServer(t.Context(), cfg, stderr, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		if t.Failed() {
			t.Logf("stderr of the app on %s:\n%s", publicURL, stderr.String())
		}
	})
	return a, getenv
}
