package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
)

// TestAuditTriggers: not even plain SQL can change or remove an audit
// entry while the migration's triggers are in place.
func TestAuditTriggers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outreach.db")
	s := open(t, path)
	e, err := s.Append(ctx, outreach.AuditEntry{At: clocktest.Start(t), Actor: "alice", Action: outreach.ActionCampaignStarted, ObjectType: "campaign", ObjectID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`UPDATE audit SET actor = 'mallory'`,
		`UPDATE audit SET result = 'denied' WHERE id = 1`,
		`DELETE FROM audit`,
		`DELETE FROM audit WHERE id = 1`,
	} {
		_, err := db.ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
	var actor string
	var n int
	if err := db.QueryRowContext(ctx, `SELECT actor, (SELECT count(*) FROM audit) FROM audit WHERE id = ?`, e.ID).Scan(&actor, &n); err != nil {
		t.Fatal(err)
	}
	if actor != "alice" || n != 1 {
		t.Errorf("after the refused changes: actor %q, %d entries; want alice, 1", actor, n)
	}
}
