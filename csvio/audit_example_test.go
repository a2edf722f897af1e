package csvio_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
)

// Administrative actions are appended to the store's audit trail, and
// the entries a filter selects are exported as CSV.
func ExampleExportAudit() {
	ctx := context.Background()
	store := memstore.New()
	defer store.Close()
	at := time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)
	for _, e := range []outreach.AuditEntry{
		{At: at, Actor: "alice", Action: outreach.ActionLoginSucceeded, ObjectType: "user", ObjectID: "alice", Client: "192.0.2.x"},
		{At: at.Add(time.Minute), Actor: "alice", Action: outreach.ActionCampaignStarted, ObjectType: "campaign", ObjectID: "12", Client: "192.0.2.x"},
		{At: at.Add(2 * time.Minute), Actor: "bob", Action: outreach.ActionCampaignCancelled, Result: outreach.ResultDenied, ObjectType: "campaign", ObjectID: "12"},
	} {
		if _, err := store.Append(ctx, e); err != nil {
			log.Fatal(err)
		}
	}
	var out strings.Builder
	n, err := csvio.ExportAudit(ctx, &out, store, outreach.AuditFilter{ObjectType: "campaign", ObjectID: "12"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(strings.TrimPrefix(out.String(), "\ufeff")) // the byte order mark Excel needs
	fmt.Println(n, "entries")
	// Output:
	// id,at,actor,action,result,object_type,object_id,client,detail
	// 2,2026-03-02T17:01:00.000Z,alice,campaign.started,ok,campaign,12,192.0.2.x,
	// 3,2026-03-02T17:02:00.000Z,bob,campaign.cancelled,denied,campaign,12,,
	// 2 entries
}
