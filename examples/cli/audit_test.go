package main

import (
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/internal/phicheck"
	"github.com/patient-outreach/sms/outreach/clocktest"
)

// TestAuditTrail: run, optouts import and export, and export append
// audit entries with the user from --actor or $USER and client "cli";
// audit lists them (as a table, JSON or CSV), filtered, without PHI.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "audit.db")
	recipients := writeFile(t, filepath.Join(dir, "oncology-zebulon.csv"), "patient_id,patient_first_name,patient_phone\n"+
		"Z-1,Zebulon,(440) 555-0142\nZ-2,Philippa,(208) 555-0187\n")
	crm := writeFile(t, filepath.Join(dir, "crm.csv"), "name,phone\nMarguerite,808-941-2275\n")
	bob := []string{"USER=bob"}

	steps := [][]string{
		{"run", "--flow", "provider", "--csv", recipients, "--db", db, "--name", "Oncology Zebulon", "--actor", "alice",
			"--seed", "7", "--window", "00:00-24:00", "--start", clocktest.Start(t).Format(time.RFC3339)},
		{"optouts", "import", "--db", db, "--actor", "alice", crm},
		{"optouts", "export", "--db", db, "--out", filepath.Join(dir, "optouts.csv")},
		{"export", "--db", db, "--campaign", "1", "--out", filepath.Join(dir, "responses.csv")},
	}
	for _, args := range steps {
		if r := cli(t, dir, bob, args...); r.code != exitOK {
			t.Fatalf("%v: %v", args, r)
		}
	}

	r := cli(t, dir, bob, "audit", "--db", db, "--json")
	if r.code != exitOK {
		t.Fatalf("audit --json: %v", r)
	}
	entries, _ := jsonDoc(t, r.stdout)["entries"].([]any)
	want := [][4]string{
		{"alice", "campaign.created", "campaign", "1"},
		{"alice", "campaign.started", "campaign", "1"},
		{"alice", "optouts.imported", "", ""},
		{"bob", "optouts.exported", "", ""},
		{"bob", "responses.exported", "campaign", "1"},
	}
	if len(entries) != len(want) {
		t.Fatalf("audit --json: %d entries, want %d\n%s", len(entries), len(want), r.stdout)
	}
	for i, w := range want {
		e := entries[i].(map[string]any)
		str := func(k string) string { s, _ := e[k].(string); return s }
		if str("actor") != w[0] || str("action") != w[1] || str("object_type") != w[2] || str("object_id") != w[3] ||
			str("result") != "ok" || str("client") != "cli" || str("at") == "" {
			t.Errorf("entry %d = %v; want %v, ok, from cli", i+1, e, w)
		}
	}

	r = cli(t, dir, nil, "audit", "--db", db, "--actor", "bob", "--action", "responses.exported")
	if r.code != exitOK || strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "responses.exported") || !strings.Contains(r.stdout, "campaign:1") {
		t.Errorf("audit filtered as a table: %v", r)
	}
	r = cli(t, dir, nil, "audit", "--db", db, "--since", "2000-01-01T00:00:00Z", "--csv", "-")
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.stdout, "\ufeff"))).ReadAll()
	if r.code != exitOK || err != nil || len(rows) != len(want)+1 || rows[0][0] != "id" {
		t.Errorf("audit --csv -: %v, %v", r, err)
	}
	var s phicheck.Secrets
	s.Add("first name", "Zebulon", "Philippa", "Marguerite")
	s.AddPhone("+14405550142")
	s.AddPhone("+12085550187")
	s.AddPhone("+18089412275")
	s.Add("campaign name", "Oncology Zebulon")
	s.Check(t, "audit CSV", r.stdout)

	if r = cli(t, dir, nil, "audit", "--db", db, "--actor", "nobody"); r.code != exitOK || !strings.Contains(r.stdout, "no audit entry matches") {
		t.Errorf("audit of nobody: %v", r)
	}
	if r = cli(t, dir, nil, "audit", "--db", db, "--since", "yesterday"); r.code != exitUsage {
		t.Errorf("audit --since yesterday: %v", r)
	}
}
