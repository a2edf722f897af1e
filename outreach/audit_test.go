package outreach_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// TestAuditStoreIsAppendOnly: the interface offers no way to change or
// remove an entry, only Append and Audit.
func TestAuditStoreIsAppendOnly(t *testing.T) {
	typ := reflect.TypeFor[outreach.AuditStore]()
	var names []string
	for m := range typ.Methods() {
		names = append(names, m.Name)
	}
	if want := []string{"Append", "Audit"}; !slices.Equal(names, want) {
		t.Errorf("AuditStore methods = %v, want only %v", names, want)
	}
}

func TestAuditFilterMatch(t *testing.T) {
	base := time.Date(2025, time.March, 3, 15, 0, 0, 0, time.UTC)
	e := outreach.AuditEntry{ID: 3, At: base, Actor: "alice", Action: outreach.ActionFlowDeployed, ObjectType: "flow", ObjectID: "provider"}
	tests := []struct {
		name string
		f    outreach.AuditFilter
		want bool
	}{
		{"empty", outreach.AuditFilter{}, true},
		{"since equal", outreach.AuditFilter{Since: base}, true},
		{"since after", outreach.AuditFilter{Since: base.Add(1)}, false},
		{"until equal", outreach.AuditFilter{Until: base}, false},
		{"until after", outreach.AuditFilter{Until: base.Add(1)}, true},
		{"actor", outreach.AuditFilter{Actor: "alice"}, true},
		{"other actor", outreach.AuditFilter{Actor: "bob"}, false},
		{"action", outreach.AuditFilter{Action: outreach.ActionFlowDeployed}, true},
		{"other action", outreach.AuditFilter{Action: outreach.ActionFlowDeleted}, false},
		{"object", outreach.AuditFilter{ObjectType: "flow", ObjectID: "provider"}, true},
		{"other object", outreach.AuditFilter{ObjectType: "flow", ObjectID: "payor"}, false},
		{"paging is not its business", outreach.AuditFilter{AfterID: 10, Limit: 1}, true},
	}
	for _, tc := range tests {
		if got := tc.f.Match(e); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
}
