package pgstore_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// The session store has the shape scs wants.
var (
	_ scs.Store            = (*pgstore.SessionStore)(nil)
	_ scs.CtxStore         = (*pgstore.SessionStore)(nil)
	_ scs.IterableStore    = (*pgstore.SessionStore)(nil)
	_ scs.IterableCtxStore = (*pgstore.SessionStore)(nil)
)

// sessions returns the sessions of s on a clock fixed at now.
func sessions(s *pgstore.Store, now time.Time) *pgstore.SessionStore {
	ss := s.Sessions()
	pgstore.SetSessionClock(ss, func() time.Time { return now })
	return ss
}

func TestSessions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	s := open(t, url)
	now := clocktest.Start(t)
	ss := sessions(s, now)

	if _, found, err := ss.FindCtx(ctx, "none"); found || err != nil {
		t.Fatalf("Find of an unknown token = %v, %v; want not found, nil", found, err)
	}
	if err := ss.CommitCtx(ctx, "a", []byte("one"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ss.CommitCtx(ctx, "old", []byte("gone"), now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	b, found, err := ss.FindCtx(ctx, "a")
	if err != nil || !found || string(b) != "one" {
		t.Fatalf("Find(a) = %q, %v, %v; want one, true, nil", b, found, err)
	}
	if _, found, err := ss.FindCtx(ctx, "old"); found || err != nil {
		t.Fatalf("Find of an expired session = %v, %v; want not found, nil", found, err)
	}

	// Commit replaces data and expiry.
	if err := ss.Commit("a", []byte("two"), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, found, err := ss.Find("a"); err != nil || !found || string(b) != "two" {
		t.Fatalf("Find(a) after a second commit = %q, %v, %v; want two", b, found, err)
	}
	all, err := ss.All()
	if err != nil || len(all) != 1 || string(all["a"]) != "two" {
		t.Fatalf("All() = %q, %v; want only a", all, err)
	}
	// Past its expiry, a session is not found.
	if _, found, err := sessions(s, now.Add(2*time.Hour)).FindCtx(ctx, "a"); found || err != nil {
		t.Fatalf("Find(a) at its expiry = %v, %v; want not found", found, err)
	}

	// Sessions survive a reopen, and are shared with another store on
	// the same database.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, url)
	ss = sessions(s, now)
	if b, found, err := ss.FindCtx(ctx, "a"); err != nil || !found || string(b) != "two" {
		t.Fatalf("Find(a) after reopening = %q, %v, %v", b, found, err)
	}
	if b, found, err := sessions(open(t, url), now).FindCtx(ctx, "a"); err != nil || !found || string(b) != "two" {
		t.Fatalf("Find(a) from a second store = %q, %v, %v", b, found, err)
	}

	if err := ss.DeleteCtx(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := ss.Delete("a"); err != nil {
		t.Fatalf("deleting an unknown session: %v", err)
	}
	if _, found, _ := ss.FindCtx(ctx, "a"); found {
		t.Fatal("a deleted session is found")
	}
	all, err = ss.AllCtx(ctx)
	if err != nil || all == nil || len(all) != 0 {
		t.Fatalf("AllCtx() with no live session = %v, %v; want an empty map", all, err)
	}
	if err := ss.CommitCtx(ctx, "", nil, now.Add(time.Hour)); err == nil {
		t.Fatal("a commit with an empty token succeeded")
	}
}

func TestSessionsCleanup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := pgtest.Open(t)
	now := clocktest.Start(t)
	ss := sessions(s, now)
	count := func() int {
		t.Helper()
		var n int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The first write of a SessionStore cleans up, then at most once per
	// interval: these expired sessions stay until then.
	if err := ss.CommitCtx(ctx, "live", []byte("v"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"x", "y"} {
		if err := ss.CommitCtx(ctx, tok, []byte("v"), now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 3 {
		t.Fatalf("%d rows after three commits; want 3 (no cleanup within the interval)", n)
	}
	n, err := ss.DeleteExpired(ctx)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2", n, err)
	}
	if err := ss.CommitCtx(ctx, "z", []byte("v"), now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d rows; want 2 (live and the expired z)", n)
	}
	// A new SessionStore has never cleaned up: its first write does.
	if err := sessions(s, now).CommitCtx(ctx, "live2", []byte("v"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d rows after a cleaning write; want 2 (the live sessions)", n)
	}
	// Once the interval has passed, the same SessionStore cleans up again.
	clock := now
	ss = s.Sessions()
	pgstore.SetSessionClock(ss, func() time.Time { return clock })
	for _, tok := range []string{"live3", "w"} {
		expiry := now.Add(time.Hour)
		if tok == "w" {
			expiry = now.Add(-time.Minute)
		}
		if err := ss.CommitCtx(ctx, tok, []byte("v"), expiry); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 4 {
		t.Fatalf("%d rows; want 4 (three live, the expired w)", n)
	}
	clock = now.Add(pgstore.SessionCleanupInterval)
	if err := ss.CommitCtx(ctx, "live4", []byte("v"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 4 {
		t.Fatalf("%d rows after the interval; want 4 (the live sessions)", n)
	}
}

// TestSessionsWithSCS runs the store under the session manager: a value
// put in one request is read in the next, with the token hashed in the
// store. scs computes expiries from the wall clock, so this store keeps
// its real clock.
func TestSessionsWithSCS(t *testing.T) {
	t.Parallel()
	s := pgtest.Open(t)
	sm := scs.New()
	sm.Store = s.Sessions()
	sm.HashTokenInStore = true
	sm.IdleTimeout = time.Minute
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			sm.Put(r.Context(), "k", "v")
			return
		}
		w.Write([]byte(sm.GetString(r.Context(), "k")))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies = %v; want the session cookie", cookies)
	}
	all, err := s.Sessions().AllCtx(t.Context())
	if err != nil || len(all) != 1 {
		t.Fatalf("AllCtx = %v, %v; want one session", all, err)
	}
	if _, ok := all[cookies[0].Value]; ok {
		t.Fatal("the store holds the cookie's token itself; want its hash")
	}
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
	req.AddCookie(cookies[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Body.String(); got != "v" {
		t.Fatalf("value read back = %q; want v", got)
	}
}
