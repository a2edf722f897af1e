package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// TestPurge: purge deletes the texts of a campaign that finished long
// ago (2001, so that the real clock of the command is always past the
// cutoff) and of old unmatched messages, keeps a running campaign's, and
// prints counts and ids only; without --db or with a bad age it is a
// usage error.
func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "purge.db")
	old := time.Date(2001, time.March, 3, 15, 0, 0, 0, time.UTC)
	s, err := sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	flow := &outreach.Flow{ID: "f", Steps: []outreach.Step{{ID: "bye", Kind: outreach.StepEnd, Body: "Thanks", Outcome: "completed"}}}
	campaign := func(name, phone string, finish bool) int64 {
		t.Helper()
		c, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: name, Flow: flow, From: "+15005550006", DefaultZone: "UTC", CreatedAt: old},
			[]outreach.Conversation{{Recipient: outreach.Recipient{ID: name, Phone: phone}, TwoWay: true, Status: outreach.ConversationActive}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetCampaignStatus(ctx, c.ID, outreach.CampaignRunning, old); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RecordInbound(ctx, "", outreach.Message{From: phone, To: "+15005550006", Body: "secret reply of " + name,
			ProviderID: "SM" + name, SentAt: old}, outreach.EventReply); err != nil {
			t.Fatal(err)
		}
		if finish {
			if err := s.SetCampaignStatus(ctx, c.ID, outreach.CampaignCancelled, old.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		return c.ID
	}
	finished := campaign("finished", "+14406443709", true)
	running := campaign("running", "+14406443710", false)
	if _, _, err := s.RecordInbound(ctx, "", outreach.Message{From: "+14406443711", To: "+15005550006", Body: "secret stray",
		ProviderID: "SMstray", SentAt: old}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no database", []string{"purge", "--older-than", "90d"}, "--db"},
		{"no age", []string{"purge", "--db", db}, "--older-than"},
		{"bad age", []string{"purge", "--db", db, "--older-than", "3 months"}, "--older-than"},
		{"zero age", []string{"purge", "--db", db, "--older-than", "0d"}, "more than zero"},
		{"missing database", []string{"purge", "--db", filepath.Join(dir, "none.db"), "--older-than", "90d"}, "no such database"},
	} {
		if r := cli(t, dir, nil, tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: %v; want a usage error about %s", tc.name, r, tc.want)
		}
	}

	r := cli(t, dir, nil, "purge", "--db", db, "--older-than", "90d", "--json")
	if r.code != exitOK {
		t.Fatalf("purge: %v", r)
	}
	doc := jsonDoc(t, r.stdout)
	if ids, _ := doc["campaigns"].([]any); len(ids) != 1 || ids[0] != float64(finished) || doc["messages"] != 1.0 || doc["unmatched"] != 1.0 {
		t.Errorf("purge --json = %v; want campaign %d, 1 message, 1 unmatched", doc, finished)
	}
	if strings.Contains(r.stdout+r.stderr, "secret") {
		t.Errorf("purge printed a text:\n%v", r)
	}

	s, err = sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := func(campaign int64) string {
		t.Helper()
		convs, err := s.Conversations(ctx, campaign, 0, 0)
		if err != nil || len(convs) != 1 {
			t.Fatalf("conversations %v, %v", convs, err)
		}
		ms, err := s.Messages(ctx, convs[0].ID)
		if err != nil || len(ms) != 1 {
			t.Fatalf("messages %v, %v", ms, err)
		}
		return ms[0].Body
	}
	if got := body(finished); got != "" {
		t.Errorf("the finished campaign's reply is still %q", got)
	}
	if got := body(running); got != "secret reply of running" {
		t.Errorf("the running campaign's reply is %q; want it kept", got)
	}

	r = cli(t, dir, nil, "purge", "--db", db, "--older-than", "90d")
	if r.code != exitOK || !strings.Contains(r.stdout, "purged 0 campaign(s)") {
		t.Errorf("a second purge: %v", r)
	}
}
