package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// TestWorldMigration checks that migration 5 gives the campaigns and
// conversations of an older file the empty world: a runner that sets no
// world still claims them, one of another world does not.
func TestWorldMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"0001_init.sql", "0002_login_attempts.sql", "0003_runtimes.sql", "0004_sessions.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	// One running campaign with one conversation due, as version 4 wrote.
	_, err = db.Exec(`PRAGMA user_version = 4;
		INSERT INTO campaigns (id, name, flow, from_number, default_zone, status, created_at, updated_at)
			VALUES (1, 'old', 'null', '+15005550006', 'America/New_York', 'running', 1, 1);
		INSERT INTO conversations (id, campaign_id, patient_id, first_name, phone, time_zone, attrs, from_number,
				two_way, zones, status, state, outcome, next_at, created_at, updated_at)
			VALUES (1, 1, 'p1', 'Pat', '+14406440001', '', 'null', '+15005550006', 1, 'null', 'active', '{}', '', 1, 1, 1);`)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.Campaign(ctx, 1)
	if err != nil || c.World != "" || c.Runtime != outreach.RuntimeEmbedded {
		t.Fatalf("Campaign(1) after migration: world %q, runtime %q, %v; want the empty world, embedded", c.World, c.Runtime, err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if cs, err := s.ClaimDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded, World: outreach.WorldDev}, now, 10, time.Minute); err != nil || len(cs) != 0 {
		t.Fatalf("ClaimDue(world dev) = %d claims, %v; want none", len(cs), err)
	}
	// The old active conversation still holds its pair in the empty world.
	m, _, err := s.RecordInbound(ctx, "", outreach.Message{From: "+14406440001", To: "+15005550006", Body: "7", ProviderID: "SM1", SentAt: now}, outreach.EventReply)
	if err != nil || m.ConversationID != 1 {
		t.Fatalf("RecordInbound in the empty world: conversation %d, %v; want 1", m.ConversationID, err)
	}
	if cs, err := s.ClaimDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, now, 10, time.Minute); err != nil || len(cs) != 1 {
		t.Fatalf("ClaimDue(empty world) = %d claims, %v; want the old conversation", len(cs), err)
	}
}
