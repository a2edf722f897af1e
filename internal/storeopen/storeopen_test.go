package storeopen_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

func TestIsPostgres(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u@h/db": true, "postgresql://u@h/db?sslmode=disable": true, " POSTGRES://u@h/db": true,
		"outreach.db": false, "data/postgres.db": false, "file:o.db": false, "": false,
	} {
		if got := storeopen.IsPostgres(dsn); got != want {
			t.Errorf("IsPostgres(%q) = %v; want %v", dsn, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := storeopen.Redact("postgres://outreach:s3cret@db/o"); strings.Contains(got, "s3cret") || !strings.Contains(got, "db/o") {
		t.Errorf("Redact = %q", got)
	}
	if got := storeopen.Redact("data/o.db"); got != "data/o.db" {
		t.Errorf("Redact of a path = %q", got)
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	db, err := storeopen.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Kind != storeopen.SQLite || db.Listen != nil || db.Path != path || db.Sessions == nil {
		t.Errorf("SQLite: kind %q, listen %v, path %q, sessions %v", db.Kind, db.Listen != nil, db.Path, db.Sessions)
	}
	if _, err := db.SchemaVersion(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestOpenPostgres(t *testing.T) {
	url := pgtest.URL(t)
	db, err := storeopen.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Kind != storeopen.Postgres || db.Listen == nil || db.Path != "" || db.Sessions == nil {
		t.Errorf("Postgres: kind %q, listen %v, path %q, sessions %v", db.Kind, db.Listen != nil, db.Path, db.Sessions)
	}
	if _, err := db.SchemaVersion(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestPassesOn checks that a DB passes on its store's optional
// interfaces, which the runner looks for on the DB it is given.
func TestPassesOn(t *testing.T) {
	ctx := context.Background()
	db, err := storeopen.Open(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var store outreach.Store = db
	c, _, err := store.CreateCampaign(ctx, outreach.Campaign{Name: "c", Flow: &outreach.Flow{ID: "f", Steps: []outreach.Step{
		{ID: "bye", Kind: outreach.StepEnd, Body: "Hi", Outcome: "done"}}}, From: "+15005550006"},
		[]outreach.Conversation{{Recipient: outreach.Recipient{ID: "p1", FirstName: "Pat", Phone: "+14406440001"}}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := store.(outreach.ExportRowLister).ExportRows(ctx, nil, c.ID, 0, 10)
	if err != nil || len(rows) != 1 || rows[0].PatientID != "p1" {
		t.Errorf("ExportRows = %+v, %v; want the row of p1", rows, err)
	}
	if st, err := store.(outreach.CampaignStatusReader).CampaignStatus(ctx, c.ID); err != nil || st != outreach.CampaignDraft {
		t.Errorf("CampaignStatus = %q, %v; want draft", st, err)
	}
	b := store.(outreach.BatchRecorder)
	in, err := b.RecordInbounds(ctx, "", []outreach.InboundRecord{{
		Message: outreach.Message{Direction: outreach.Inbound, From: "+14406440000", To: "+15005550006", Body: "hi", ProviderID: "SMin"},
		Event:   outreach.EventReply,
	}})
	if err != nil || len(in) != 1 || !in[0].New || in[0].Message.ID == 0 {
		t.Errorf("RecordInbounds = %+v, %v", in, err)
	}
	up, err := b.UpdateDeliveries(ctx, []outreach.DeliveryUpdate{{ProviderID: "SMnone", Status: "delivered"}})
	if err != nil || len(up) != 1 || !errors.Is(up[0].Err, outreach.ErrNotFound) {
		t.Errorf("UpdateDeliveries = %+v, %v; want not found", up, err)
	}
}
