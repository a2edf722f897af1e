package csvio

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
)

func TestExportAudit(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []outreach.AuditEntry{
		{At: t0.In(ny), Actor: "alice", Action: outreach.ActionLoginFailed, Result: outreach.ResultFailed, Client: "192.0.2.x"},
		{At: t0.Add(1500 * time.Millisecond), Actor: "alice", Action: outreach.ActionCampaignStarted, ObjectType: "campaign", ObjectID: "12", Detail: "runtime=embedded"},
		{At: t0.Add(time.Minute), Actor: "=cmd|' /C calc'!A0", Action: outreach.ActionLoginFailed, Result: outreach.ResultFailed, Detail: "-1+1"},
	} {
		if _, err := s.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    outreach.AuditFilter
		want string
		rows int
	}{
		{
			name: "everything, neutralized",
			want: "\ufeffid,at,actor,action,result,object_type,object_id,client,detail\n" +
				"1,2026-03-02T17:00:00.000Z,alice,login.failed,failed,,,192.0.2.x,\n" +
				"2,2026-03-02T17:00:01.500Z,alice,campaign.started,ok,campaign,12,,runtime=embedded\n" +
				"3,2026-03-02T17:01:00.000Z,'=cmd|' /C calc'!A0,login.failed,failed,,,,'-1+1\n",
			rows: 3,
		},
		{
			name: "filtered",
			f:    outreach.AuditFilter{Action: outreach.ActionCampaignStarted},
			want: "\ufeffid,at,actor,action,result,object_type,object_id,client,detail\n" +
				"2,2026-03-02T17:00:01.500Z,alice,campaign.started,ok,campaign,12,,runtime=embedded\n",
			rows: 1,
		},
		{
			name: "limited",
			f:    outreach.AuditFilter{Limit: 1},
			want: "\ufeffid,at,actor,action,result,object_type,object_id,client,detail\n" +
				"1,2026-03-02T17:00:00.000Z,alice,login.failed,failed,,,192.0.2.x,\n",
			rows: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			n, err := ExportAudit(ctx, &b, s, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.rows || b.String() != tc.want {
				t.Errorf("ExportAudit wrote %d rows:\n%s\nwant %d rows:\n%s", n, b.String(), tc.rows, tc.want)
			}
		})
	}
}

// TestExportAuditPages: a trail longer than a page is written whole, once.
func TestExportAuditPages(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()
	const n = exportAuditPage*2 + 3
	for i := range n {
		if _, err := s.Append(ctx, outreach.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "system", Action: outreach.ActionCampaignCreated}); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	rows, err := ExportAudit(ctx, &b, s, outreach.AuditFilter{})
	if err != nil || rows != n || strings.Count(b.String(), "\n") != n+1 {
		t.Fatalf("ExportAudit = %d rows, %d lines, %v; want %d rows", rows, strings.Count(b.String(), "\n"), err, n)
	}
}

func TestExportAuditError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ExportAudit(context.Background(), &bytes.Buffer{}, auditSourceFunc(func(context.Context, outreach.AuditFilter) ([]outreach.AuditEntry, error) {
		return nil, boom
	}), outreach.AuditFilter{})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want it to wrap the source's error", err)
	}
}

type auditSourceFunc func(context.Context, outreach.AuditFilter) ([]outreach.AuditEntry, error)

func (f auditSourceFunc) Audit(ctx context.Context, flt outreach.AuditFilter) ([]outreach.AuditEntry, error) {
	return f(ctx, flt)
}
