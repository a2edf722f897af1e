package pgstore_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// TestMigrationsConcurrent opens one new schema from four goroutines at
// once: every Open succeeds and each migration is applied once.
func TestMigrationsConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	stores := make([]*pgstore.Store, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = pgstore.Open(ctx, url) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		t.Cleanup(func() { s.Close() })
	}
	latest := pgstore.LatestSchema()
	if latest < 2 {
		t.Fatalf("LatestSchema = %d; want the embedded migrations", latest)
	}
	var n, distinct int
	if err := stores[0].Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != latest || distinct != latest {
		t.Fatalf("schema_migrations has %d rows (%d versions); want %d, each once", n, distinct, latest)
	}
	for i, s := range stores {
		if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
			t.Fatalf("store %d: SchemaVersion = %d, %v; want %d", i, v, err, latest)
		}
	}
}

// TestSearchPath checks both ways to pick the schema: a search_path
// parameter of the URL (sent by pgx as a runtime parameter, which is how
// pgtest.URL isolates separate processes) and the Schema option, which
// also creates a missing schema.
func TestSearchPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name, url := pgtest.Schema(t)
	if !strings.Contains(url, "search_path="+name) {
		t.Fatalf("pgtest URL %q does not set search_path=%s", url, name)
	}
	s := open(t, url)
	if s.Schema() != name {
		t.Fatalf("Schema() = %q with the URL's search_path; want %q", s.Schema(), name)
	}
	tables := func(schema string) int {
		t.Helper()
		var n int
		err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tables(name); n < 10 {
		t.Fatalf("schema %s has %d tables after Open; want the store's", name, n)
	}
	if !strings.HasSuffix(s.Channel(), name) {
		t.Errorf("Channel() = %q; want one of the schema %s", s.Channel(), name)
	}

	// The option: a schema that does not exist yet is created. pgtest
	// makes it, and drops it at the end; drop it first to see Open make it.
	other, _ := pgtest.Schema(t)
	if _, err := s.Pool().Exec(ctx, `DROP SCHEMA `+other); err != nil {
		t.Fatal(err)
	}
	s2, err := pgstore.Open(ctx, pgtest.BaseURL(t), pgstore.WithSchema(other))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	if s2.Schema() != other || tables(other) < 10 {
		t.Fatalf("with WithSchema(%s): Schema() = %q, %d tables", other, s2.Schema(), tables(other))
	}
	// Each schema keeps to itself.
	if _, _, err := s2.CreateCampaign(ctx, outreach.Campaign{Name: "x", From: "+15005550006", CreatedAt: clocktest.Start(t)}, nil); err != nil {
		t.Fatal(err)
	}
	if cs, err := s.Campaigns(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("Campaigns of the first schema = %d, %v; want none", len(cs), err)
	}
}

// TestReopen checks that reopening applies no migration twice and that
// what was stored is still there, as stored.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "persist", From: "+15005550006", Status: outreach.CampaignRunning,
		CreatedAt: clocktest.Start(t)},
		[]outreach.Conversation{{
			Recipient: outreach.Recipient{ID: "p1", FirstName: "Ann", Phone: "+14406443701", Attrs: map[string]string{"a": "b"}},
			TwoWay:    true,
			NextAt:    time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC),
			State:     outreach.State{Step: "pain", Answers: map[string]string{"age": "40"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	convs, err := s.Conversations(ctx, c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for range 2 {
		s := open(t, url)
		if v, err := s.SchemaVersion(ctx); err != nil || v != pgstore.LatestSchema() {
			t.Fatalf("SchemaVersion after reopening = %d, %v; want %d", v, err, pgstore.LatestSchema())
		}
		got, err := s.Campaign(ctx, c.ID)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("campaign after reopening = %+v, %v; want %+v", got, err, c)
		}
		gotConvs, err := s.Conversations(ctx, c.ID, 0, 0)
		if err != nil || !reflect.DeepEqual(gotConvs, convs) {
			t.Fatalf("conversations after reopening = %+v, %v; want %+v", gotConvs, err, convs)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	s := open(t, url)
	if _, err := s.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (99, '0099_future.sql')`); err != nil {
		t.Fatal(err)
	}
	s2, err := pgstore.Open(ctx, url)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if s, err := pgstore.Open(ctx, "postgres://%zz"); err == nil {
		s.Close()
		t.Error("Open of a bad URL succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if s, err := pgstore.Open(cctx, pgtest.URL(t)); err == nil {
		s.Close()
		t.Error("Open with a cancelled context succeeded")
	}
}

// TestAuditAppendOnly: not even plain SQL can change or remove an audit
// entry while the migration's triggers are in place.
func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.Open(t)
	e, err := s.Append(ctx, outreach.AuditEntry{At: clocktest.Start(t), Actor: "alice", Action: outreach.ActionCampaignStarted, ObjectType: "campaign", ObjectID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE audit SET actor = 'mallory'`,
		`DELETE FROM audit WHERE id = 1`,
		`TRUNCATE audit`,
	} {
		_, err := s.Pool().Exec(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
	got, err := s.Audit(ctx, outreach.AuditFilter{})
	if err != nil || len(got) != 1 || got[0] != e {
		t.Fatalf("after the refused changes: %+v, %v; want %+v", got, err, e)
	}
}

// TestTimePrecision: Postgres keeps microseconds. What a store returns
// of a time it was given is what it stored (truncated), so that reading
// it back gives the same value; opt-outs keep their nanoseconds.
func TestTimePrecision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.Open(t)
	at := clocktest.Start(t).Add(1234567 * time.Nanosecond)
	c, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "t", From: "+15005550006", CreatedAt: at}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Truncate(time.Microsecond); !c.CreatedAt.Equal(want) {
		t.Fatalf("CreatedAt = %v; want %v", c.CreatedAt, want)
	}
	got, err := s.Campaign(ctx, c.ID)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("Campaign = %+v, %v; want %+v", got, err, c)
	}
	if err := s.SetOptOut(ctx, "", "+14406443701", true, at); err != nil {
		t.Fatal(err)
	}
	// One nanosecond earlier is older: ignored.
	if err := s.SetOptOut(ctx, "", "+14406443701", false, at.Add(-time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	rs, err := s.OptOuts(ctx, "", 0)
	if err != nil || len(rs) != 1 || !rs[0].OptedOut || !rs[0].At.Equal(at) {
		t.Fatalf("OptOuts = %+v, %v; want opted out at %v", rs, err, at)
	}
	// The zero time is before every other, and comes back zero.
	const other = "+14406443702"
	if err := s.SetOptOut(ctx, "", other, true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.OptOuts(ctx, "+14406443701", 0); err != nil || len(rs) != 1 || !rs[0].At.IsZero() || !rs[0].OptedOut {
		t.Fatalf("OptOuts after a change at the zero time = %+v, %v", rs, err)
	}
	if err := s.SetOptOut(ctx, "", other, false, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if out, err := s.OptedOut(ctx, []string{other}); err != nil || out[other] {
		t.Fatalf("OptedOut after a later START = %v, %v", out, err)
	}
}

// TestCampaignsKept checks the rule that stands in for the foreign key
// from conversations to campaigns (migration 6): a campaign cannot be
// deleted or truncated, so no conversation is left pointing at nothing.
func TestCampaignsKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.Open(t)
	now := clocktest.Start(t)
	c, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "kept", From: "+15005550006", CreatedAt: now},
		[]outreach.Conversation{{Recipient: outreach.Recipient{ID: "p1", Phone: "+14406443709"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM campaigns WHERE id = $1`, `TRUNCATE campaigns CASCADE`} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, c.ID)
		}
		if _, err := s.Pool().Exec(ctx, q, args...); err == nil || !strings.Contains(err.Error(), "never deleted") {
			t.Errorf("%s: err = %v; want the campaigns_kept trigger's refusal", q, err)
		}
	}
	if _, err := s.Campaign(ctx, c.ID); err != nil {
		t.Fatalf("the campaign is gone: %v", err)
	}
	if cs, err := s.Conversations(ctx, c.ID, 0, 10); err != nil || len(cs) != 1 {
		t.Fatalf("Conversations = %d, %v; want its one conversation", len(cs), err)
	}
}
