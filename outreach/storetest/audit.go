package storetest

import (
	"errors"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// testAudit: the audit trail keeps entries in the order appended, with
// increasing IDs and times in UTC; filters by time, actor, action and
// object; pages with AfterID and Limit; and refuses an entry without an
// actor, an action or a time.
func testAudit(h *harness) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		h.Fatal(err)
	}
	if got, err := h.s.Audit(h.ctx, outreach.AuditFilter{}); err != nil || len(got) != 0 {
		h.Fatalf("Audit of an empty trail = %+v, %v; want none", got, err)
	}
	in := []outreach.AuditEntry{
		{At: at(0).In(ny), Actor: "alice", Action: outreach.ActionLoginFailed, Result: outreach.ResultFailed, Client: "192.0.2.x"},
		{At: at(time.Second), Actor: "alice", Action: outreach.ActionLoginSucceeded, Client: "192.0.2.x"},
		{At: at(time.Minute), Actor: "alice", Action: outreach.ActionCampaignCreated, ObjectType: "campaign", ObjectID: "7", Detail: "recipients=3"},
		{At: at(2 * time.Minute), Actor: "bob", Action: outreach.ActionCampaignStarted, Result: outreach.ResultDenied, ObjectType: "campaign", ObjectID: "7"},
		{At: at(3 * time.Minute), Actor: "alice", Action: outreach.ActionCampaignStarted, ObjectType: "campaign", ObjectID: "7"},
		// Appended later but dated earlier: order is the order of Append.
		{At: at(90 * time.Second), Actor: outreach.ActorSystem, Action: outreach.ActionCampaignCreated, ObjectType: "campaign", ObjectID: "8"},
	}
	var stored []outreach.AuditEntry
	for i, e := range in {
		got, err := h.s.Append(h.ctx, e)
		if err != nil {
			h.Fatalf("Append(%d): %v", i, err)
		}
		if len(stored) > 0 && got.ID <= stored[len(stored)-1].ID {
			h.Fatalf("Append(%d): ID %d not above the previous %d", i, got.ID, stored[len(stored)-1].ID)
		}
		h.sameTime("appended time", got.At, e.At)
		want := e
		want.ID, want.At = got.ID, e.At.UTC()
		if want.Result == "" {
			want.Result = outreach.ResultOK
		}
		h.equal("appended entry", got, want)
		stored = append(stored, got)
	}

	audit := func(f outreach.AuditFilter) []outreach.AuditEntry {
		h.Helper()
		got, err := h.s.Audit(h.ctx, f)
		if err != nil {
			h.Fatalf("Audit(%+v): %v", f, err)
		}
		for _, e := range got {
			h.sameTime("listed time", e.At, e.At)
		}
		return got
	}
	pick := func(is ...int) []outreach.AuditEntry {
		var out []outreach.AuditEntry
		for _, i := range is {
			out = append(out, stored[i])
		}
		return out
	}
	h.equal("the whole trail", audit(outreach.AuditFilter{}), stored)

	tests := []struct {
		name string
		f    outreach.AuditFilter
		want []int
	}{
		{"since (inclusive)", outreach.AuditFilter{Since: at(time.Minute)}, []int{2, 3, 4, 5}},
		{"until (exclusive)", outreach.AuditFilter{Until: at(time.Minute)}, []int{0, 1}},
		{"since and until", outreach.AuditFilter{Since: at(time.Minute), Until: at(2 * time.Minute)}, []int{2, 5}},
		{"since, in another zone", outreach.AuditFilter{Since: at(3 * time.Minute).In(ny)}, []int{4}},
		{"actor", outreach.AuditFilter{Actor: "bob"}, []int{3}},
		{"action", outreach.AuditFilter{Action: outreach.ActionCampaignStarted}, []int{3, 4}},
		{"object type", outreach.AuditFilter{ObjectType: "campaign"}, []int{2, 3, 4, 5}},
		{"object", outreach.AuditFilter{ObjectType: "campaign", ObjectID: "8"}, []int{5}},
		{"actor and action", outreach.AuditFilter{Actor: "alice", Action: outreach.ActionCampaignStarted}, []int{4}},
		{"no match", outreach.AuditFilter{Actor: "carol"}, nil},
		{"after", outreach.AuditFilter{AfterID: stored[3].ID}, []int{4, 5}},
		{"limit", outreach.AuditFilter{Limit: 2}, []int{0, 1}},
		{"filtered page", outreach.AuditFilter{Actor: "alice", AfterID: stored[1].ID, Limit: 1}, []int{2}},
	}
	for _, tc := range tests {
		got := audit(tc.f)
		h.equal(tc.name, got, pick(tc.want...))
	}

	// Paging through the whole trail two at a time gives it all, once.
	var paged []outreach.AuditEntry
	for after := int64(0); ; {
		page := audit(outreach.AuditFilter{AfterID: after, Limit: 2})
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	h.equal("paged trail", paged, stored)

	// Incomplete entries are refused and leave no trace.
	for _, e := range []outreach.AuditEntry{
		{At: base, Action: outreach.ActionLoginFailed},
		{At: base, Actor: "alice"},
		{Actor: "alice", Action: outreach.ActionLoginFailed},
	} {
		_, err := h.s.Append(h.ctx, e)
		var ae *outreach.AuditError
		if !errors.As(err, &ae) {
			h.Fatalf("Append(%+v) = %v, want an *outreach.AuditError", e, err)
		}
	}
	h.equal("trail after refused entries", audit(outreach.AuditFilter{}), stored)
}
