package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/verify/twilioverify"
)

// storeView is the time as of which the tests look at the store's files:
// before any of them expires (uploads expire an hour after the app's
// clock says they were made), and no reading of the wall clock.
var storeView = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// storedFile returns the content of the store's file name in the
// database db (an SQLite file or a postgres:// URL), "" when there is
// none.
func storedFile(t *testing.T, db, name string) string {
	t.Helper()
	s, err := storeopen.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, rc, err := s.OpenFile(t.Context(), name, storeView)
	if err != nil {
		if !errors.Is(err, outreach.ErrNotFound) {
			t.Fatal(err)
		}
		return ""
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// openStore opens the database db (an SQLite file or a postgres:// URL)
// beside the app, until the test ends.
func openStore(t *testing.T, db string) storeopen.Store {
	t.Helper()
	s, err := storeopen.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storedNames lists the names of the store's files that begin with prefix.
func storedNames(t *testing.T, store storeopen.Store, prefix string) []string {
	t.Helper()
	list, err := store.ListFiles(t.Context(), prefix, storeView)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range list {
		names = append(names, f.Name)
	}
	return names
}

// eachDatabase runs fn on an SQLite file and, when OUTREACH_TEST_POSTGRES
// is set, on a Postgres schema of its own.
func eachDatabase(t *testing.T, fn func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "o.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, pgtest.URL(t)) })
}

// replicas are two instances of the app in real mode on one fake Twilio
// and one database, behind a load balancer with no sticky sessions.
// Neither runs its runtimes: campaigns are created and started, not sent.
type replicas struct {
	fake       *twiliotest.Server
	a, b       *app
	srvA, srvB *httptest.Server
	serviceSID string // the Verify service of the login codes
}

func newReplicas(t *testing.T, db string) *replicas {
	t.Helper()
	const public = "https://outreach.example.org"
	fake := twiliotest.New(twiliotest.Options{Clock: clocktest.Manual(t), Numbers: []string{"+15005550006"}})
	t.Cleanup(fake.Close)
	rp := &replicas{fake: fake}
	rp.a, _ = newRealServerOn(t, fake, public, db)
	rp.b, _ = newRealServerOn(t, fake, public, db)
	rp.srvA, rp.srvB = httptest.NewServer(rp.a.handler), httptest.NewServer(rp.b.handler)
	t.Cleanup(rp.srvA.Close)
	t.Cleanup(rp.srvB.Close)
	codes, err := twilioverify.New(t.Context(), twilioverify.Config{
		AccountSID: fake.AccountSID(), AuthToken: fake.AuthToken(), HTTPClient: fake.HTTPClient(),
		ServiceName: rp.a.cfg.VerifyServiceName,
	})
	if err != nil {
		t.Fatal(err)
	}
	rp.serviceSID = codes.ServiceSID()
	return rp
}

// login logs user in, the password on A and the code on B, and returns
// a client of A.
func (rp *replicas) login(t *testing.T, user, password, phone string) *client {
	t.Helper()
	c := &client{t: t, base: rp.srvA.URL, hc: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}}
	resp, body := c.postForm("/login", url.Values{"user": {user}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther || c.session == nil {
		t.Fatalf("password step of %s: %s\n%s", user, resp.Status, body)
	}
	code, ok := rp.fake.VerifyCode(rp.serviceSID, phone)
	if !ok {
		t.Fatalf("no login code was sent to %s", user)
	}
	onB := rp.on(c, rp.srvB)
	resp, body = onB.postForm("/login/code", url.Values{"code": {code}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/campaigns" {
		t.Fatalf("code step of %s: %s to %q\n%s", user, resp.Status, resp.Header.Get("Location"), body)
	}
	return rp.on(onB, rp.srvA) // with the session the login renewed
}

// on returns a copy of c, with its session, that talks to srv.
func (rp *replicas) on(c *client, srv *httptest.Server) *client {
	cc := *c
	cc.base = srv.URL
	return &cc
}

// uploadFile uploads file for the provider flow through c and returns the
// preview's path.
func uploadFile(t *testing.T, c *client, name string, file []byte) string {
	t.Helper()
	resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded", "name": name}, "recipients", "r.csv", file)
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	return resp.Header.Get("Location")
}

// campaignSizes returns the number of conversations of each campaign of
// the store, by name.
func campaignSizes(t *testing.T, store storeopen.Store) map[string]int {
	t.Helper()
	cs, err := store.Campaigns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range cs {
		convs, err := store.Conversations(t.Context(), c.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		out[c.Name] += len(convs)
	}
	return out
}

func recipientsCSV(n int) []byte {
	rows := []string{"patient_id,patient_first_name,patient_phone"}
	for i := range n {
		rows = append(rows, "P-"+string(rune('A'+i))+",Ann,(440) 555-01"+string(rune('1'+i/10))+string(rune('0'+i%10)))
	}
	return csvOf(rows...)
}

// TestUploadOnAnyReplica: a file uploaded on one replica is previewed
// and started on the other, into one campaign of all its rows; two
// starts of one upload at once, on both replicas, make one campaign;
// another user cannot see or start someone's upload.
func TestUploadOnAnyReplica(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		rp := newReplicas(t, db)
		adm := rp.login(t, firstAdmin, realPassword, realAdminPhone)

		preview := uploadFile(t, adm, "Across", recipientsCSV(3))
		resp, body := rp.on(adm, rp.srvB).get(preview)
		mustStatus(t, "preview on B", resp, body, http.StatusOK)
		if !strings.Contains(body, "3 rows") {
			t.Errorf("the preview on B does not count the 3 rows:\n%.3000s", body)
		}
		resp, body = rp.on(adm, rp.srvB).postForm(preview+"/start", nil)
		mustStatus(t, "start on B", resp, body, http.StatusSeeOther)
		if !strings.HasPrefix(resp.Header.Get("Location"), "/campaigns/") {
			t.Fatalf("start on B went to %q", resp.Header.Get("Location"))
		}
		resp, body = adm.postForm(preview+"/start", nil)
		mustStatus(t, "start again on A", resp, body, http.StatusNotFound)
		if got := campaignSizes(t, rp.a.store); len(got) != 1 || got["Across"] != 3 {
			t.Fatalf("campaigns after the start on B: %v; want Across with 3 conversations", got)
		}

		// Two starts at once, one on each replica.
		preview = uploadFile(t, adm, "Race", recipientsCSV(5))
		var (
			wg    sync.WaitGroup
			codes [2]int
		)
		for i, srv := range []*httptest.Server{rp.srvA, rp.srvB} {
			c := rp.on(adm, srv)
			wg.Go(func() {
				resp, _ := c.postForm(preview+"/start", nil)
				codes[i] = resp.StatusCode
			})
		}
		wg.Wait()
		if !(codes[0] == http.StatusSeeOther && codes[1] == http.StatusNotFound) && !(codes[0] == http.StatusNotFound && codes[1] == http.StatusSeeOther) {
			t.Errorf("two starts at once answered %v; want one 303 and one 404", codes)
		}
		if got := campaignSizes(t, rp.b.store); len(got) != 2 || got["Race"] != 5 {
			t.Fatalf("campaigns after two starts at once: %v; want Race once, with 5 conversations", got)
		}
		if left := storedNames(t, rp.a.store, uploadPrefix); len(left) != 0 {
			t.Errorf("uploads left in the store after their start: %v", left)
		}

		// Another operator cannot use the administrator's upload.
		addUser(t, adm, "otto", "operator", "+15005550112", "the operator's own password")
		otto := rp.login(t, "otto", "the operator's own password", "+15005550112")
		preview = uploadFile(t, adm, "Mine", recipientsCSV(2))
		for _, srv := range []*httptest.Server{rp.srvA, rp.srvB} {
			o := rp.on(otto, srv)
			resp, body := o.get(preview)
			mustStatus(t, "another user's preview", resp, body, http.StatusNotFound)
			resp, body = o.postForm(preview+"/start", nil)
			mustStatus(t, "another user's start", resp, body, http.StatusNotFound)
			resp, body = o.postForm(preview+"/discard", nil)
			mustStatus(t, "another user's discard", resp, body, http.StatusNotFound)
		}
		if got := campaignSizes(t, rp.a.store); len(got) != 2 {
			t.Errorf("campaigns after another user's start: %v; want the 2 before", got)
		}
		if left := storedNames(t, rp.a.store, uploadPrefix); len(left) != 1 || !strings.HasPrefix(left[0], uploadPrefix+firstAdmin+"/") {
			t.Errorf("uploads in the store: %v; want the administrator's one", left)
		}
		resp, body = rp.on(adm, rp.srvB).postForm(preview+"/start", nil)
		mustStatus(t, "the uploader's start on B", resp, body, http.StatusSeeOther)
	})
}

// TestUploadPutBackAfterFailure: when the campaign cannot be created,
// the upload is put back, as it was: the preview shows it again, and
// starting it again tries again (here, fails the same way) rather than
// finding it used.
func TestUploadPutBackAfterFailure(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		rp := newReplicas(t, db)
		adm := rp.login(t, firstAdmin, realPassword, realAdminPhone)
		// Studio cannot run a flow that patients start (a trigger).
		triggered := strings.Replace(customFlow, `"id": "reminder",`, `"id": "reminder", "trigger": {"keywords": ["JOIN"]},`, 1)
		resp, body := adm.postFile("/flows", nil, "flow", "reminder.json", []byte(triggered))
		mustStatus(t, "flow upload", resp, body, http.StatusSeeOther)
		resp, body = adm.postFile("/campaigns/new", map[string]string{"flow": "reminder", "runtime": "studio", "name": "Fails"},
			"recipients", "r.csv", csvOf("patient_id,patient_first_name,patient_phone,clinic", "R-1,Ann,(440) 555-0142,Main St"))
		mustStatus(t, "upload", resp, body, http.StatusSeeOther)
		preview := resp.Header.Get("Location")
		for i, srv := range []*httptest.Server{rp.srvB, rp.srvA} {
			c := rp.on(adm, srv)
			resp, body = c.postForm(preview+"/start", nil)
			mustStatus(t, "a start that fails", resp, body, http.StatusSeeOther)
			if loc := resp.Header.Get("Location"); loc != preview {
				t.Fatalf("start %d that fails went to %q; want back to the preview", i+1, loc)
			}
			resp, body = c.get(preview)
			mustStatus(t, "the preview after a failed start", resp, body, http.StatusOK)
			if !strings.Contains(body, "could not be created") {
				t.Errorf("the preview after a failed start does not say why:\n%.2000s", body)
			}
		}
		if left := storedNames(t, rp.a.store, uploadPrefix); len(left) != 1 {
			t.Errorf("uploads in the store after failed starts: %v; want the one, put back", left)
		}
	})
}

// TestFlowsOnAnyReplica: a flow uploaded on one replica is listed and
// usable on the other, and deleting it there removes it everywhere.
func TestFlowsOnAnyReplica(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		rp := newReplicas(t, db)
		adm := rp.login(t, firstAdmin, realPassword, realAdminPhone)
		resp, body := adm.postFile("/flows", nil, "flow", "reminder.json", []byte(customFlow))
		mustStatus(t, "flow upload on A", resp, body, http.StatusSeeOther)

		onB := rp.on(adm, rp.srvB)
		_, body = onB.get("/flows")
		if !strings.Contains(body, "Appointment reminder") {
			t.Errorf("B does not list the flow uploaded on A")
		}
		resp, body = onB.get("/flows/reminder")
		mustStatus(t, "the flow's page on B", resp, body, http.StatusOK)
		resp, body = onB.postFile("/campaigns/new", map[string]string{"flow": "reminder", "runtime": "embedded", "name": "Reminders"},
			"recipients", "r.csv", csvOf("patient_id,patient_first_name,patient_phone,clinic", "R-1,Ann,(440) 555-0142,Main St"))
		mustStatus(t, "upload for the flow on B", resp, body, http.StatusSeeOther)
		preview := resp.Header.Get("Location")
		resp, body = adm.postForm(preview+"/start", nil)
		mustStatus(t, "start on A", resp, body, http.StatusSeeOther)
		cs, err := rp.a.store.Campaigns(t.Context())
		if err != nil || len(cs) != 1 || cs[0].Flow == nil || cs[0].Flow.ID != "reminder" {
			t.Fatalf("campaigns: %+v, %v; want one of the flow reminder", cs, err)
		}

		resp, body = onB.postForm("/flows/reminder/delete", nil)
		mustStatus(t, "delete on B", resp, body, http.StatusSeeOther)
		resp, body = adm.get("/flows/reminder")
		mustStatus(t, "the deleted flow's page on A", resp, body, http.StatusNotFound)
		if _, body = adm.get("/flows"); strings.Contains(body, "Appointment reminder") {
			t.Errorf("A still lists the flow deleted on B")
		}
	})
}

// TestUploadSurvivesRestart: an upload waits in the database, so the
// app can restart between its preview and its start.
func TestUploadSurvivesRestart(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)
	preview := uploadFile(t, c, "Restarted", recipientsCSV(2))
	ta.Stop()
	if kept := tempUploads(t, tmp); len(kept) != 0 {
		t.Errorf("the upload left temporary files: %v", kept)
	}

	ta2 := startApp(t, func(cfg *config) { cfg.DatabasePath = ta.DBPath })
	c.base = ta2.URL // the same session, kept in the database
	resp, body := c.get(preview)
	mustStatus(t, "preview after the restart", resp, body, http.StatusOK)
	resp, body = c.postForm(preview+"/start", nil)
	mustStatus(t, "start after the restart", resp, body, http.StatusSeeOther)
	resp, body = c.get(resp.Header.Get("Location"))
	mustStatus(t, "campaign page", resp, body, http.StatusOK)
	if got := pageCounters(body)["total"]; got != "2" {
		t.Errorf("the campaign has %s conversations; want 2", got)
	}
}

// TestFlowsDirImported: the flow files of FLOWS_DIR are imported into
// the database at start, once: a flow deleted since stays deleted.
func TestFlowsDirImported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "reminder.json"), []byte(customFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "o.db")
	withDir := func(cfg *config) { cfg.DatabasePath, cfg.FlowsDir = db, dir }
	ta := startApp(t, withDir)
	c := ta.client(t)
	c.login(ta)
	resp, body := c.get("/flows/reminder")
	mustStatus(t, "the imported flow", resp, body, http.StatusOK)
	if n := strings.Count(ta.Stderr.String(), "flow imported from FLOWS_DIR"); n != 1 {
		t.Errorf("%d import messages; want 1:\n%s", n, ta.Stderr.String())
	}
	resp, body = c.postForm("/flows/reminder/delete", nil)
	mustStatus(t, "delete", resp, body, http.StatusSeeOther)
	ta.Stop()

	ta2 := startApp(t, withDir)
	c2 := ta2.client(t)
	c2.login(ta2)
	resp, body = c2.get("/flows/reminder")
	mustStatus(t, "the deleted flow after a restart", resp, body, http.StatusNotFound)
	if strings.Contains(ta2.Stderr.String(), "imported from FLOWS_DIR") {
		t.Errorf("the flow was imported again:\n%s", ta2.Stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "reminder.json")); err != nil {
		t.Errorf("the file of FLOWS_DIR was touched: %v", err)
	}
}

// tempUploads lists the temporary files an upload could have left in
// dir: the app's old copies, and the multipart parser's spills.
func tempUploads(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"outreach-upload-*", "multipart-*"} {
		list, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, list...)
	}
	return out
}
